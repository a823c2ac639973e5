import SniffDecode

/// Zeek's TCP connection state machine (TCPSessionAdapter::Process and its
/// Update*State helpers), reduced to what `conn_state`, `history` and the byte counts
/// need. Weird-event reporting, reassembly and timers are left out.
extension Flow {
    /// Sequence deltas beyond this are not trusted for SYN and RST (Zeek's value).
    static let tooLargeSeqDelta: Int32 = 1_048_576

    @inline(__always)
    static func seqDelta(_ a: UInt32, _ b: UInt32) -> Int32 { Int32(bitPattern: a &- b) }

    mutating func tcpPacket(isOrig: Bool, nanos: Int64, segment s: TCPSegment) {
        // Zeek stops extending the duration once both sides have closed.
        if !(orig.didClose && resp.didClose) && nanos > lastNanos { lastNanos = nanos }
        var flip = false
        if isOrig {
            Flow.step(&orig, &resp, isOrig: true, s, &history, &historySeen, &flip)
        } else {
            Flow.step(&resp, &orig, isOrig: false, s, &history, &historySeen, &flip)
        }
        if flip { flipRoles() }
    }

    // swiftlint:disable:next function_body_length
    static func step(_ ep: inout FlowEndpoint, _ peer: inout FlowEndpoint, isOrig: Bool, _ s: TCPSegment,
                     _ history: inout FlowHistory, _ seen: inout UInt16, _ flip: inout Bool) {
        let syn = s.flags & TCP.syn != 0, fin = s.flags & TCP.fin != 0
        let rst = s.flags & TCP.rst != 0, ack = s.flags & TCP.ack != 0
        let len = s.payloadLength
        var segLen = len + (syn ? 1 : 0) + (fin ? 1 : 0)
        if rst { segLen -= len }
        let onePast = s.seq &+ UInt32(truncatingIfNeeded: segLen)

        initEndpoint(&ep, syn: syn, seq: s.seq, onePast: onePast)

        let relSeq = relativeSeq(ep, s.seq, last: ep.lastSeq, wraps: ep.seqWraps)
        updateHistory(&ep, isOrig: isOrig, syn: syn, fin: fin, rst: rst, ack: ack, relSeq: relSeq, len: len,
                      &history, &seen)

        // Zero windows are interesting unless they come with or after a RST, or after the
        // peer's FIN.
        if s.window == 0 && !rst && peer.state != .closed && ep.state != .reset {
            scaledHistory(&ep.zeroWindows, &ep.zeroWindowExponent, letter: UInt8(ascii: "W"), isOrig: isOrig, &history)
        }

        if fin { ep.finCount = ep.finCount == .max ? .max : ep.finCount + 1 }

        if ack {
            if peer.state == .inactive {
                // Start the peer's numbering as though its SYN had been seen.
                peer.initSequence(start: s.ack &- 1, ack: s.ack &- 1, last: s.ack &- 1)
            } else if !rst {
                let delta = seqDelta(s.ack, peer.ackSeq)
                if s.ack == 0 && delta > tooLargeSeqDelta {
                    // More likely a broken ack than a huge connection landing on 0.
                } else if delta > 0 {
                    peer.updateAckSeq(s.ack)
                }
            }
        }

        let deltaLast = updateLastSeq(&ep, onePast, syn: syn, fin: fin, rst: rst, len: len, isOrig: isOrig, &history)

        var doClose = false
        switch ep.state {
        case .inactive:
            inactiveState(&ep, &peer, isOrig: isOrig, s, syn: syn, fin: fin, rst: rst, ack: ack, &doClose, &flip)
        case .synSent, .synAckSent:
            if fin { ep.setState(.closed); doClose = true }
            if rst { ep.setState(.reset); doClose = true }
        case .established, .partial:
            if syn && ep.state == .partial && peer.state == .inactive && !ack { ep.setState(.synSent) }
            if fin && !rst {
                ep.setState(.closed)
                // A FIN followed by a RST from the peer was a normal close after all.
                if peer.state == .reset && peer.previousState == .closed { peer.setState(.closed) }
                doClose = true
            }
            if rst { ep.setState(.reset); doClose = true }
        case .closed:
            if rst && peer.state != .closed {
                ep.setState(.reset)
                if !ep.didClose { doClose = true }
            }
        case .reset:
            break
        }
        _ = deltaLast
        if doClose && !ep.didClose { ep.didClose = true }
    }

    static func initEndpoint(_ ep: inout FlowEndpoint, syn: Bool, seq: UInt32, onePast: UInt32) {
        switch ep.state {
        case .inactive:
            if syn {
                ep.initSequence(start: seq, ack: seq, last: onePast)
            } else {
                // A partial connection: number as though a SYN had been seen, and do not
                // take this first packet for a retransmission.
                ep.initSequence(start: seq &- 1, ack: seq &- 1, last: seq)
            }
        case .synSent, .synAckSent:
            if syn && seq != ep.startSeq { ep.initSequence(start: seq, ack: seq, last: onePast) }
        case .established, .partial:
            if syn { ep.initSequence(start: seq, ack: seq, last: onePast) }
        case .reset:
            if syn && ep.previousState == .inactive { ep.initSequence(start: seq, ack: seq, last: onePast) }
        case .closed:
            break
        }
    }

    /// Zeek's get_relative_seq, truncated to 32 bits (it is only compared for equality).
    static func relativeSeq(_ ep: FlowEndpoint, _ cur: UInt32, last: UInt32, wraps: UInt16) -> UInt32 {
        var w = wraps
        let delta = seqDelta(cur, last)
        if delta < 0 {
            if w > 0 && cur > last { w -= 1 }
        } else if delta > 0 {
            if cur < last { w &+= 1 }
        }
        if w == 0 { return cur &- ep.startSeq }
        return UInt32(truncatingIfNeeded: FlowEndpoint.fullSeq(cur, w) &- UInt64(ep.startSeq))
    }

    static func updateHistory(_ ep: inout FlowEndpoint, isOrig: Bool, syn: Bool, fin: Bool, rst: Bool, ack: Bool,
                              relSeq: UInt32, len: Int, _ history: inout FlowHistory, _ seen: inout UInt16) {
        func check(_ mask: UInt16, _ letter: UInt8) -> Bool {
            Flow.checkHistory(&history, &seen, isOrig: isOrig, mask: mask, letter: letter)
        }
        let bitsSet = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0)
        if bitsSet > 1 {
            if fin && rst {
                _ = check(HistoryMask.finRst, UInt8(ascii: "I"))
            } else {
                _ = check(HistoryMask.multi, UInt8(ascii: "Q"))
            }
        } else if bitsSet == 1 {
            if syn {
                let letter = ack ? UInt8(ascii: "H") : UInt8(ascii: "S")
                if check(HistoryMask.syn, letter) && relSeq != ep.lastSYN { history.append(letter, originator: isOrig) }
                ep.lastSYN = relSeq
            }
            if fin {
                // A FIN's sequence number counts at the end of its data.
                let finSeq = relSeq &+ UInt32(truncatingIfNeeded: len)
                if check(HistoryMask.fin, UInt8(ascii: "F")) && finSeq != ep.lastFIN {
                    history.append(UInt8(ascii: "F"), originator: isOrig)
                }
                ep.lastFIN = finSeq
            }
            if rst {
                if check(HistoryMask.rst, UInt8(ascii: "R")) && relSeq != ep.lastRST {
                    history.append(UInt8(ascii: "R"), originator: isOrig)
                }
                ep.lastRST = relSeq
            }
        } else if len > 0 {
            _ = check(HistoryMask.data, UInt8(ascii: "D"))
        } else if ack {
            _ = check(HistoryMask.ack, UInt8(ascii: "A"))
        }
    }

    /// Zeek's ScaledHistoryEntry: the letter at the 1st, 10th, 100th ... occurrence.
    static func scaledHistory(_ counter: inout UInt32, _ exponent: inout UInt8, letter: UInt8, isOrig: Bool,
                              _ history: inout FlowHistory) {
        counter &+= 1
        var threshold: UInt32 = 1
        for _ in 0..<Int(exponent) { threshold = threshold &* 10 }
        if counter == threshold {
            history.append(letter, originator: isOrig)
            if exponent < 9 { exponent += 1 } else { counter = 0 }
        }
    }

    static func updateLastSeq(_ ep: inout FlowEndpoint, _ lastSeq: UInt32, syn: Bool, fin: Bool, rst: Bool, len: Int,
                              isOrig: Bool, _ history: inout FlowHistory) -> Int32 {
        let delta = seqDelta(lastSeq, ep.lastSeq)
        if (syn || rst) && (delta > tooLargeSeqDelta || delta < -tooLargeSeqDelta) {
            // Not trusted.
        } else if fin && ep.lastSeq == ep.startSeq &+ 1 {
            ep.updateLastSeq(lastSeq)
        } else if ep.state == .reset {
            // Nothing after a RST is trusted.
        } else if delta > 0 {
            ep.updateLastSeq(lastSeq)
        } else if delta <= 0 && len > 0 {
            scaledHistory(&ep.retransmits, &ep.retransmitExponent, letter: UInt8(ascii: "T"), isOrig: isOrig, &history)
        }
        return delta
    }

    static func inactiveState(_ ep: inout FlowEndpoint, _ peer: inout FlowEndpoint, isOrig: Bool, _ s: TCPSegment,
                              syn: Bool, fin: Bool, rst: Bool, ack: Bool, _ doClose: inout Bool, _ flip: inout Bool) {
        if syn {
            if isOrig {
                ep.setState(ack ? .synAckSent : .synSent)
            } else {
                if !ack && peer.state == .synAckSent && s.seq == ep.startSeq {
                    // A SYN answering what we took for the originator's SYN-ACK: the
                    // roles were reversed.
                    flip = true
                    peer.setState(.established)
                }
                if peer.state == .synSent { peer.setState(.established) }
                ep.setState(.established)
            }
        }
        if fin { ep.setState(.closed); doClose = true }
        if rst { ep.setState(.reset); doClose = true }
        if ep.state == .inactive {
            // `peer` is the originator when `ep` is the responder.
            if !isOrig && s.payloadLength == 0 && peer.state == .synSent {
                // Some stacks ack a SYN before answering it; not a partial connection.
            } else if ack && peer.state == .established {
                // The SYN was missed, the SYN-ACK and this ACK were not.
                ep.setState(.established)
            } else {
                ep.setState(.partial)
            }
        }
    }
}
