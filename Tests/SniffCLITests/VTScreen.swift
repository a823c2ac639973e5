/// A small VT100/xterm screen model for reading what a full-screen program drew on a
/// pseudo-terminal: cursor motion, erase, insert/delete, scroll regions, repeat, the
/// alternate screen. Attributes are ignored; unknown sequences are skipped.
struct VTScreen {
    let rows: Int
    let cols: Int
    private(set) var cells: [[Unicode.Scalar]]
    private var row = 0, col = 0
    private var wrapPending = false
    private var top = 0, bottom: Int
    private var saved = (0, 0)
    private var last: Unicode.Scalar = " "
    /// Times the program left the alternate screen (CSI ?1049l / ?47l / ?1047l).
    private(set) var alternateExits = 0
    private(set) var alternateEnters = 0
    // Parser state.
    private var state = 0  // 0 ground, 1 ESC, 2 CSI, 3 charset designation
    private var params = ""
    private var utf8: [UInt8] = []
    private var utf8Need = 0

    init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        bottom = rows - 1
        cells = Array(repeating: Array(repeating: " ", count: cols), count: rows)
    }

    func line(_ r: Int) -> String {
        var s = String(String.UnicodeScalarView(cells[r]))
        while s.last == " " { s.removeLast() }
        return s
    }

    var text: String { (0..<rows).map(line).joined(separator: "\n") }

    mutating func feed(_ bytes: [UInt8]) { for b in bytes { feed(b) } }

    mutating func feed(_ b: UInt8) {
        switch state {
        case 1: escape(b); return
        case 2: csi(b); return
        case 3: state = 0; return
        default: break
        }
        if utf8Need > 0 {
            utf8.append(b)
            utf8Need -= 1
            if utf8Need == 0 {
                var it = utf8.makeIterator()
                var dec = UTF8()
                if case .scalarValue(let u) = dec.decode(&it) { put(u) } else { put("?") }
                utf8 = []
            }
            return
        }
        switch b {
        case 0x1B: state = 1
        case 0x0D: col = 0; wrapPending = false
        case 0x0A, 0x0B, 0x0C: lineFeed()
        case 0x08: if col > 0 { col -= 1 }; wrapPending = false
        case 0x09: col = min(cols - 1, (col / 8 + 1) * 8)
        case 0x00..<0x20, 0x7F: break
        case 0xC0..<0xE0: utf8 = [b]; utf8Need = 1
        case 0xE0..<0xF0: utf8 = [b]; utf8Need = 2
        case 0xF0..<0xF8: utf8 = [b]; utf8Need = 3
        case 0x80..<0xC0: break
        default: put(Unicode.Scalar(b))
        }
    }

    private mutating func put(_ u: Unicode.Scalar) {
        if wrapPending { col = 0; lineFeed(); wrapPending = false }
        cells[row][col] = u
        last = u
        if col == cols - 1 { wrapPending = true } else { col += 1 }
    }

    private mutating func lineFeed() {
        wrapPending = false
        if row == bottom { scrollUp(1) } else if row < rows - 1 { row += 1 }
    }

    private mutating func scrollUp(_ n: Int) {
        for _ in 0..<n {
            cells.remove(at: top)
            cells.insert(Array(repeating: " ", count: cols), at: bottom)
        }
    }

    private mutating func scrollDown(_ n: Int) {
        for _ in 0..<n {
            cells.remove(at: bottom)
            cells.insert(Array(repeating: " ", count: cols), at: top)
        }
    }

    private mutating func escape(_ b: UInt8) {
        state = 0
        switch b {
        case UInt8(ascii: "["): state = 2; params = ""
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"): state = 3
        case UInt8(ascii: "7"): saved = (row, col)
        case UInt8(ascii: "8"): (row, col) = saved; wrapPending = false
        case UInt8(ascii: "D"): lineFeed()
        case UInt8(ascii: "E"): col = 0; lineFeed()
        case UInt8(ascii: "M"): if row == top { scrollDown(1) } else if row > 0 { row -= 1 }
        case UInt8(ascii: "c"): self = VTScreen(rows: rows, cols: cols)
        default: break
        }
    }

    private mutating func csi(_ b: UInt8) {
        if (0x30...0x3F).contains(b) { params.append(Character(Unicode.Scalar(b))); return }
        if (0x20...0x2F).contains(b) { return }
        state = 0
        let priv = params.hasPrefix("?")
        let nums = params.drop(while: { $0 == "?" || $0 == ">" }).split(
            separator: ";", omittingEmptySubsequences: false
        ).map { Int($0) }
        func p(_ i: Int, _ d: Int) -> Int { i < nums.count ? (nums[i] ?? d) == 0 ? d : (nums[i] ?? d) : d }
        func p0(_ i: Int) -> Int { i < nums.count ? (nums[i] ?? 0) : 0 }
        let f = Character(Unicode.Scalar(b))
        if f != "b" { wrapPending = false }
        switch f {
        case "H", "f": row = min(rows - 1, p(0, 1) - 1); col = min(cols - 1, p(1, 1) - 1)
        case "A": row = max(0, row - p(0, 1))
        case "B": row = min(rows - 1, row + p(0, 1))
        case "C": col = min(cols - 1, col + p(0, 1))
        case "D": col = max(0, col - p(0, 1))
        case "G", "`": col = min(cols - 1, p(0, 1) - 1)
        case "d": row = min(rows - 1, p(0, 1) - 1)
        case "J":
            switch p0(0) {
            case 0:
                erase(row: row, from: col, to: cols)
                for r in (row + 1)..<rows { erase(row: r, from: 0, to: cols) }
            case 1:
                for r in 0..<row { erase(row: r, from: 0, to: cols) }
                erase(row: row, from: 0, to: col + 1)
            default: for r in 0..<rows { erase(row: r, from: 0, to: cols) }
            }
        case "K":
            switch p0(0) {
            case 0: erase(row: row, from: col, to: cols)
            case 1: erase(row: row, from: 0, to: col + 1)
            default: erase(row: row, from: 0, to: cols)
            }
        case "X": erase(row: row, from: col, to: min(cols, col + p(0, 1)))
        case "@":
            for _ in 0..<p(0, 1) { cells[row].insert(" ", at: col); cells[row].removeLast() }
        case "P":
            for _ in 0..<p(0, 1) { cells[row].remove(at: col); cells[row].append(" ") }
        case "L":
            if row >= top && row <= bottom {
                for _ in 0..<p(0, 1) {
                    cells.remove(at: bottom); cells.insert(Array(repeating: " ", count: cols), at: row)
                }
            }
        case "M":
            if row >= top && row <= bottom {
                for _ in 0..<p(0, 1) {
                    cells.remove(at: row); cells.insert(Array(repeating: " ", count: cols), at: bottom)
                }
            }
        case "S": scrollUp(p(0, 1))
        case "T": scrollDown(p(0, 1))
        case "b": for _ in 0..<p(0, 1) { put(last) }
        case "r":
            top = p(0, 1) - 1
            bottom = min(rows - 1, p(1, rows) - 1)
            row = 0; col = 0
        case "s": saved = (row, col)
        case "u": (row, col) = saved
        case "h" where priv:
            if nums.contains(1049) || nums.contains(47) || nums.contains(1047) {
                alternateEnters += 1
                for r in 0..<rows { erase(row: r, from: 0, to: cols) }
            }
        case "l" where priv:
            if nums.contains(1049) || nums.contains(47) || nums.contains(1047) { alternateExits += 1 }
        default: break
        }
    }

    private mutating func erase(row r: Int, from a: Int, to b: Int) {
        guard a < b else { return }
        for c in max(0, a)..<min(cols, b) { cells[r][c] = " " }
    }
}
