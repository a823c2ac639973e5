/// How a cell is drawn. The terminal layer maps each style to attributes, and to
/// colours unless NO_COLOR is set, so every style must read well without colour.
public enum TopStyle: UInt8, Sendable, CaseIterable {
    case normal, title, header, selected, tabActive, dim, warn, good, spark
}

/// The screen as a grid of single-width cells: what `TopLayout` produces and the
/// terminal layer draws. Tests read it as text.
public struct TopGrid: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Unicode.Scalar]
    public private(set) var styles: [TopStyle]

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: " ", count: self.width * self.height)
        styles = Array(repeating: .normal, count: self.width * self.height)
    }

    /// Writes `text` from (row, col), clipped to the grid and to `maxWidth` cells.
    /// Control characters and anything not known to be one cell wide become '?': packet
    /// text must never move the cursor or misalign a column.
    public mutating func put(_ text: String, row: Int, col: Int, style: TopStyle = .normal, maxWidth: Int? = nil) {
        guard row >= 0, row < height, col < width else { return }
        let limit = min(width, col + (maxWidth ?? width))
        var c = col
        for u in text.unicodeScalars {
            if c >= limit { break }
            if c >= 0 {
                cells[row * width + c] = TopGrid.cellScalar(u)
                styles[row * width + c] = style
            }
            c += 1
        }
    }

    /// Sets the style of a span without changing its text (selection bars, headers).
    public mutating func paint(row: Int, col: Int = 0, width w: Int? = nil, style: TopStyle) {
        guard row >= 0, row < height else { return }
        let end = min(width, col + (w ?? width))
        var c = max(0, col)
        while c < end { styles[row * width + c] = style; c += 1 }
    }

    public func scalar(row: Int, col: Int) -> Unicode.Scalar { cells[row * width + col] }
    public func style(row: Int, col: Int) -> TopStyle { styles[row * width + col] }

    /// One row as text, trailing spaces removed.
    public func line(_ row: Int) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: cells[(row * width)..<((row + 1) * width)])
        var str = String(s)
        while str.last == " " { str.removeLast() }
        return str
    }

    /// The whole screen as text, one line per row.
    public var text: String { (0..<height).map(line).joined(separator: "\n") }

    /// Scalars drawn as themselves: printable ASCII, and the few one-cell symbols the
    /// layout itself uses (sparkline blocks, sort arrows).
    static func cellScalar(_ u: Unicode.Scalar) -> Unicode.Scalar {
        if (0x20..<0x7F).contains(u.value) { return u }
        // Latin-1 letters, arrows (the Info line's →), sparkline blocks: all one cell wide.
        if (0xA0...0xFF).contains(u.value) || (0x2190...0x2193).contains(u.value) || (0x2581...0x2588).contains(u.value)
        {
            return u
        }
        return "?"
    }
}
