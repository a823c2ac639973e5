import SniffCore
import SniffTop
import CNcurses
#if canImport(Glibc)
import Glibc
#endif

/// The terminal under `sniff top`, drawn with ncurses: the alternate screen, cbreak
/// mode (Ctrl-C still raises SIGINT, which the UI loop turns into a clean exit), no
/// echo, keypad keys decoded. `close()` gives the terminal back; a crash on any thread
/// gives it back from the signal handler, with async-signal-safe calls only.
final class TopTerminal {
    enum Event { case key(TopKey), resize }

    let unicode: Bool
    private let colors: Bool
    private var closed = false
    private let screen: OpaquePointer

    init() throws {
        setlocale(LC_ALL, "")
        unicode = String(cString: nl_langinfo(nl_item(CODESET))) == "UTF-8"
        TopCrashGuard.saveTerminal()
        // Warnings while the screen is up would be drawn over it: keep them for later.
        TopCrashGuard.holdStderr()
        guard let s = sniff_curses_newterm() else {
            TopCrashGuard.releaseStderr()
            let term = getenv("TERM").map { String(cString: $0) } ?? ""
            throw RuntimeFailure("""
                cannot start the terminal UI: TERM='\(term)' is not a terminal type this system knows; try \
                TERM=xterm-256color
                """, exitCode: 64)
        }
        screen = s
        set_term(s)
        cbreak()
        noecho()
        nonl()
        keypad(sniff_curses_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        let noColor = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
        colors = !noColor && has_colors()
        if colors {
            start_color()
            use_default_colors()
            init_pair(1, Int16(COLOR_BLACK), Int16(COLOR_CYAN))    // title
            init_pair(2, Int16(COLOR_CYAN), -1)                    // headers
            init_pair(3, Int16(COLOR_BLACK), Int16(COLOR_YELLOW))  // selection
            init_pair(4, Int16(COLOR_BLACK), Int16(COLOR_GREEN))   // active view key
            init_pair(5, Int16(COLOR_YELLOW), -1)                  // messages
            init_pair(6, Int16(COLOR_GREEN), -1)                   // bytes sparkline
            init_pair(7, Int16(COLOR_CYAN), -1)                    // packets sparkline
        }
        TopCrashGuard.install(exitSequence: TopTerminal.capability("rmcup"))
    }

    deinit { close() }

    /// Rows and columns now (ncurses follows SIGWINCH).
    var size: (rows: Int, cols: Int) { (Int(getmaxy(sniff_curses_stdscr())), Int(getmaxx(sniff_curses_stdscr()))) }

    func readKey(timeoutMilliseconds: Int) -> Event? {
        timeout(Int32(timeoutMilliseconds))
        let c = getch()
        switch c {
        case ERR: return nil
        case KEY_RESIZE: return .resize
        case KEY_UP: return .key(.up)
        case KEY_DOWN: return .key(.down)
        case KEY_LEFT: return .key(.left)
        case KEY_RIGHT: return .key(.right)
        case KEY_PPAGE: return .key(.pageUp)
        case KEY_NPAGE: return .key(.pageDown)
        case KEY_HOME: return .key(.home)
        case KEY_END: return .key(.end)
        case KEY_BTAB: return .key(.backTab)
        case KEY_ENTER, 10, 13: return .key(.enter)
        case KEY_BACKSPACE, 127, 8: return .key(.backspace)
        case 9: return .key(.tab)
        case 27: return .key(.escape)
        case 3: return .key(.char("q"))  // Ctrl-C when the terminal does not raise SIGINT
        case 32..<127: return .key(.char(Character(Unicode.Scalar(UInt8(c)))))
        default: return nil
        }
    }

    func draw(_ grid: TopGrid) {
        for r in 0..<grid.height {
            var c = 0
            while c < grid.width {
                let style = grid.style(row: r, col: c)
                var run = String.UnicodeScalarView()
                let start = c
                while c < grid.width && grid.style(row: r, col: c) == style {
                    run.append(grid.scalar(row: r, col: c))
                    c += 1
                }
                attrset(attributes(style))
                // The bottom-right cell would scroll a terminal without that margin;
                // ncurses writes it but reports ERR, which is expected here.
                _ = mvaddstr(Int32(r), Int32(start), unicode ? String(run) : ascii(run))
            }
        }
        attrset(0)
        refresh()
    }

    private func ascii(_ s: String.UnicodeScalarView) -> String {
        String(
            String.UnicodeScalarView(
                s.map { $0.isASCII ? $0 : ($0.value == 0x2192 ? ">" : ($0.value == 0x2190 ? "<" : "?")) }))
    }

    private func attributes(_ s: TopStyle) -> Int32 {
        let bold = sniff_curses_a_bold(), reverse = sniff_curses_a_reverse(), dim = sniff_curses_a_dim()
        let pair = sniff_curses_color_pair
        switch s {
        case .normal: return 0
        case .title: return colors ? pair(1) | bold : reverse | bold
        case .header: return colors ? pair(2) | bold : bold
        case .selected: return colors ? pair(3) : reverse
        case .tabActive: return colors ? pair(4) | bold : reverse | bold
        case .dim: return dim
        case .warn: return colors ? pair(5) | bold : bold
        case .good: return colors ? pair(6) : 0
        case .spark: return colors ? pair(7) : 0
        }
    }

    /// Leaves the alternate screen and restores the terminal's modes; prints what was
    /// written to stderr meanwhile. Safe to call more than once.
    func close() {
        guard !closed else { return }
        closed = true
        endwin()
        delscreen(screen)
        TopCrashGuard.uninstall()
        TopCrashGuard.releaseStderr()
    }

    static func capability(_ name: String) -> [UInt8] {
        guard let p = tigetstr(name), Int(bitPattern: p) != -1 else { return [] }
        return Array(String(cString: p).utf8)
    }
}

/// Gives the terminal back when the process dies of a fatal signal while the screen is
/// up (a trap on any thread): the saved terminal modes, the end of the alternate
/// screen, the cursor; then the held stderr; then the signal's default action.
enum TopCrashGuard {
    nonisolated(unsafe) static var saved = termios()
    nonisolated(unsafe) static var haveSaved = false
    nonisolated(unsafe) static var exitBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    nonisolated(unsafe) static var exitCount = 0
    nonisolated(unsafe) static var heldFD: Int32 = -1
    nonisolated(unsafe) static var realStderr: Int32 = -1
    static let fatal: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP]

    static func saveTerminal() {
        haveSaved = tcgetattr(0, &saved) == 0
    }

    static func install(exitSequence: [UInt8]) {
        // Reset attributes, show the cursor, leave the alternate screen.
        let seq = Array("\u{1B}[0m\u{1B}[?25h".utf8) + exitSequence + Array("\r\n".utf8)
        exitCount = min(256, seq.count)
        for i in 0..<exitCount { exitBytes[i] = seq[i] }
        for s in fatal {
            signal(s) { sig in
                if TopCrashGuard.haveSaved { tcsetattr(0, TCSANOW, &TopCrashGuard.saved) }
                _ = write(1, TopCrashGuard.exitBytes, TopCrashGuard.exitCount)
                TopCrashGuard.copyHeld()
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }

    static func uninstall() {
        for s in fatal { signal(s, SIG_DFL) }
    }

    static func holdStderr() {
        var name = Array("/tmp/sniff-top-XXXXXX".utf8CString)
        let fd = name.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { return }
        name.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        realStderr = dup(2)
        heldFD = fd
        dup2(fd, 2)
    }

    /// Puts stderr back and copies what was held to it (async-signal-safe).
    static func copyHeld() {
        guard heldFD >= 0, realStderr >= 0 else { return }
        dup2(realStderr, 2)
        lseek(heldFD, 0, SEEK_SET)
        var buf = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &buf) { b in
            while true {
                let n = read(heldFD, b.baseAddress, b.count)
                if n <= 0 { break }
                _ = write(2, b.baseAddress, n)
            }
        }
    }

    static func releaseStderr() {
        copyHeld()
        if heldFD >= 0 { Glibc.close(heldFD); heldFD = -1 }
        if realStderr >= 0 { Glibc.close(realStderr); realStderr = -1 }
    }
}
