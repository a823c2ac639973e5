import Foundation
import Testing
import SniffTestSupport

extension CLI {
    /// Runs a program found on PATH with its output discarded; its exit status, or -1
    /// when it cannot be started.
    @discardableResult
    static func status(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

/// A network namespace made for one test, joined to this one by a veth pair, on a /24 of
/// its own so that tests running at the same time share no routes. `remove()` deletes
/// both; call it in a `defer`.
struct VethPair {
    let ns: String
    let outside: String
    let inside: String
    let outsideAddress: String
    let insideAddress: String

    /// Prefix for a command run inside the namespace.
    var inNamespace: [String] { ["ip", "netns", "exec", ns] }

    /// Makes the pair; fails the test (rather than skipping it) when `ip` refuses, since
    /// the suites using it run only as root, where namespaces are expected to work.
    /// `tag` keeps the names of different suites apart in `ip link` listings.
    static func make(tag: String) throws -> VethPair {
        let id = String(UInt32.random(in: 0..<0xFFFFF), radix: 16)
        let net = "10.\(Int.random(in: 150...199)).\(Int.random(in: 1...254))"
        let v = VethPair(ns: "sniff-\(tag)-\(id)", outside: "sn\(tag)\(id)a", inside: "sn\(tag)\(id)b",
                         outsideAddress: net + ".1", insideAddress: net + ".2")
        try #require(ip(["netns", "add", v.ns]), "ip netns add \(v.ns)")
        let ok = ip(["link", "add", v.outside, "type", "veth", "peer", "name", v.inside])
            && ip(["link", "set", v.inside, "netns", v.ns])
            && ip(["addr", "add", v.outsideAddress + "/24", "dev", v.outside])
            && ip(["link", "set", v.outside, "up"])
            && ip(["-n", v.ns, "addr", "add", v.insideAddress + "/24", "dev", v.inside])
            && ip(["-n", v.ns, "link", "set", v.inside, "up"])
            && ip(["-n", v.ns, "link", "set", "lo", "up"])
        if !ok { v.remove() }
        try #require(ok, "veth pair \(v.outside) into \(v.ns)")
        return v
    }

    func remove() {
        VethPair.ip(["link", "del", outside])
        VethPair.ip(["netns", "del", ns])
    }

    /// Runs `ip` with arguments; true when it succeeded.
    @discardableResult
    static func ip(_ args: [String]) -> Bool { CLI.status(["ip"] + args) == 0 }
}
