import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// A process of this machine that owns a socket: pid, command name (/proc/PID/comm),
/// user, and the container or systemd unit it runs in.
public struct LocalProcess: Sendable, Hashable {
    public var pid: Int32
    public var command: String
    public var user: String
    /// "docker:0123456789ab" (runtime and short container id), or a systemd unit
    /// ("nginx.service", "session-3.scope"); nil when neither shows in its cgroup.
    public var container: String?

    public init(pid: Int32, command: String, user: String, container: String? = nil) {
        self.pid = pid; self.command = command; self.user = user; self.container = container
    }
}

/// The container or unit named by a process's cgroup path (/proc/PID/cgroup).
public enum CgroupName {
    /// Runtimes' scope names: "docker-<id>.scope", "libpod-<id>.scope",
    /// "cri-containerd-<id>.scope", "crio-<id>.scope".
    static let scopePrefixes: [(prefix: String, runtime: String)] = [
        ("docker-", "docker"), ("libpod-", "podman"), ("cri-containerd-", "containerd"), ("crio-", "cri-o"),
    ]

    /// The container ("runtime:shortid") or systemd unit of a /proc/PID/cgroup file's
    /// text. The unified (v2) line "0::PATH" is preferred, then a v1 line of the systemd
    /// or memory hierarchy.
    public static func parse(cgroupFile text: String) -> String? {
        var paths: [Substring] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty {
                paths.insert(parts[2], at: 0)
            } else if parts[1] == "name=systemd" || parts[1].split(separator: ",").contains("memory") {
                paths.append(parts[2])
            }
        }
        for p in paths { if let n = name(path: p) { return n } }
        return nil
    }

    /// The innermost container id, else the innermost systemd unit, on one cgroup path.
    public static func name(path: Substring) -> String? {
        let parts = path.split(separator: "/")
        for (i, c) in parts.enumerated().reversed() {
            for (prefix, runtime) in scopePrefixes where c.hasPrefix(prefix) {
                var id = c.dropFirst(prefix.count)
                if id.hasSuffix(".scope") { id = id.dropLast(6) }
                if isContainerID(id) { return runtime + ":" + id.prefix(12) }
            }
            // cgroupfs drivers: /docker/<id>, /kubepods/.../<id>, /libpod_parent/libpod-<id>.
            if isContainerID(c) && i > 0 {
                let parent = parts[i - 1]
                let runtime = parent == "docker" ? "docker"
                    : parts.contains(where: { $0.hasPrefix("kubepods") }) ? "kubernetes" : "container"
                return runtime + ":" + c.prefix(12)
            }
        }
        for c in parts.reversed() where c.hasSuffix(".service") || c.hasSuffix(".scope") {
            return String(c)
        }
        return nil
    }

    /// 64 hex digits: the ids Docker, Podman, containerd and CRI-O give containers.
    static func isContainerID(_ s: Substring) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// Small reads of /proc and of the user database, for the process table's thread.
enum ProcFile {
    /// The whole of a small file (files under /proc report size 0, so this reads to EOF).
    static func read(_ path: String, limit: Int = 4 << 20) -> String? {
        readBytes(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The whole of a file's bytes, read to EOF (at most `limit`).
    static func readBytes(_ path: String, limit: Int = 64 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// The target of a symbolic link (/proc/PID/fd/N, /proc/PID/ns/net), or nil.
    static func link(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The user name for a uid, or the number when the user database has none.
    static func userName(_ uid: UInt32) -> String {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buf = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &pw, &buf, buf.count, &result) == 0, let r = result, let name = r.pointee.pw_name {
            return String(cString: name)
        }
        return String(uid)
    }
}
