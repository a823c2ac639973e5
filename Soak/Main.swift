#if canImport(Glibc)
import Glibc
#endif

// scripts/soak.sh: a simulated day through the flow table at full rate (release build),
// printing the RSS at the end of every simulated hour.
//
//     sniff-soak [HOURS [FLOWS_PER_MINUTE]]      defaults: 24 and 50000

@main
struct SoakMain {
    static func main() {
        let args = CommandLine.arguments
        let hours = args.count > 1 ? Int(args[1]) ?? 24 : 24
        let rate = args.count > 2 ? Int(args[2]) ?? 50_000 : 50_000
        print("soak: \(hours) h of packet time, \(rate) new flows per minute")
        var samples: [FlowSoak.Sample] = []
        var clock = timespec()
        clock_gettime(CLOCK_MONOTONIC, &clock)
        let t0 = Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9
        FlowSoak.run(hours: hours, flowsPerMinute: rate) { s in
            samples.append(s)
            print(s.line)
            fflush(nil)
        }
        clock_gettime(CLOCK_MONOTONIC, &clock)
        let elapsed = Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9 - t0
        let packets = samples.last?.packets ?? 0
        print("soak: \(packets) packets, \(samples.last?.flowsEnded ?? 0) flows ended in \(Int(elapsed)) s")
        guard samples.count >= 3 else { return }
        let base = samples[1].rssKiB, last = samples[samples.count - 1].rssKiB
        let ratio = Double(last) / Double(max(1, base))
        print("soak: RSS hour 2 \(base / 1024) MiB, hour \(samples.count) \(last / 1024) MiB, ratio \(ratio)")
        if ratio > 1.2 {
            print("soak: FAILED: memory grew after warm-up")
            exit(1)
        }
        print("soak: flat")
    }
}
