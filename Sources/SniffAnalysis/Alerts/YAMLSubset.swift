/// A parser for the small part of YAML that rule files use: block mappings, block
/// sequences (of scalars or of mappings), flow sequences `[a, b]`, plain and quoted
/// scalars, and `#` comments. No anchors, tags, multi-line scalars or flow mappings;
/// anything else is an error with its line number rather than a guess.
public enum YAMLValue: Sendable, Equatable {
    case scalar(String)
    case list([YAMLValue])
    case map([(String, YAMLValue)])

    public static func == (a: YAMLValue, b: YAMLValue) -> Bool {
        switch (a, b) {
        case (.scalar(let x), .scalar(let y)): return x == y
        case (.list(let x), .list(let y)): return x == y
        case (.map(let x), .map(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> YAMLValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    public var string: String? {
        if case .scalar(let s) = self { return s }
        return nil
    }

    public struct ParseError: Error, Sendable, Equatable {
        public var line: Int
        public var message: String
    }

    struct Line { var number: Int; var indent: Int; var text: String }

    public static func parse(_ text: String) throws -> YAMLValue {
        var lines: [Line] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var s = String(raw)
            if s.hasSuffix("\r") { s.removeLast() }
            if s.contains("\t") && s.trimmingLeadingSpaces().hasPrefix("\t") {
                throw ParseError(line: i + 1, message: "tabs are not allowed for indentation")
            }
            let stripped = stripComment(s)
            let content = stripped.trimmingLeadingSpaces()
            if content.trimmingTrailingSpaces().isEmpty || content == "---" { continue }
            lines.append(Line(number: i + 1, indent: stripped.count - content.count, text: content.trimmingTrailingSpaces()))
        }
        var pos = 0
        guard !lines.isEmpty else { return .map([]) }
        let v = try block(lines, &pos, indent: lines[0].indent)
        if pos < lines.count { throw ParseError(line: lines[pos].number, message: "unexpected indentation") }
        return v
    }

    /// Removes a comment: `#` at the start or after a space, outside quotes.
    static func stripComment(_ s: String) -> String {
        var out = ""
        var quote: Character? = nil
        var prev: Character = " "
        for ch in s {
            if let q = quote {
                if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'" {
                quote = ch
            } else if ch == "#" && (prev == " " || prev == "\t") {
                break
            }
            out.append(ch)
            prev = ch
        }
        return out
    }

    static func block(_ lines: [Line], _ pos: inout Int, indent: Int) throws -> YAMLValue {
        if lines[pos].text.hasPrefix("- ") || lines[pos].text == "-" {
            var items: [YAMLValue] = []
            while pos < lines.count, lines[pos].indent == indent, lines[pos].text.hasPrefix("-") {
                let line = lines[pos]
                let rest = String(line.text.dropFirst()).trimmingLeadingSpaces()
                if rest.isEmpty {
                    pos += 1
                    guard pos < lines.count, lines[pos].indent > indent else { items.append(.scalar("")); continue }
                    items.append(try block(lines, &pos, indent: lines[pos].indent))
                } else if keyValue(rest) != nil {
                    // "- key: value" starts a mapping whose other keys sit under "key".
                    let inner = indent + (line.text.count - rest.count)
                    var sub = lines
                    sub[pos] = Line(number: line.number, indent: inner, text: rest)
                    items.append(try mapping(sub, &pos, indent: inner))
                } else {
                    items.append(try scalarOrFlow(rest, line: line.number))
                    pos += 1
                }
            }
            return .list(items)
        }
        return try mapping(lines, &pos, indent: indent)
    }

    static func mapping(_ lines: [Line], _ pos: inout Int, indent: Int) throws -> YAMLValue {
        var pairs: [(String, YAMLValue)] = []
        while pos < lines.count, lines[pos].indent == indent, !lines[pos].text.hasPrefix("- ") {
            let line = lines[pos]
            guard let (key, value) = keyValue(line.text) else {
                throw ParseError(line: line.number, message: "expected \"key: value\"")
            }
            if pairs.contains(where: { $0.0 == key }) { throw ParseError(line: line.number, message: "duplicate key \"\(key)\"") }
            pos += 1
            if value.isEmpty {
                if pos < lines.count, lines[pos].indent > indent || (lines[pos].indent == indent && lines[pos].text.hasPrefix("- ")) {
                    pairs.append((key, try block(lines, &pos, indent: lines[pos].indent)))
                } else {
                    pairs.append((key, .scalar("")))
                }
            } else {
                pairs.append((key, try scalarOrFlow(value, line: line.number)))
            }
        }
        if pos < lines.count, lines[pos].indent > indent {
            throw ParseError(line: lines[pos].number, message: "unexpected indentation")
        }
        return .map(pairs)
    }

    /// "key: value" (or "key:"); keys are plain or quoted.
    static func keyValue(_ text: String) -> (String, String)? {
        var key = ""
        var i = text.startIndex
        if text.first == "\"" || text.first == "'" {
            let q = text.first!
            i = text.index(after: i)
            while i < text.endIndex, text[i] != q { key.append(text[i]); i = text.index(after: i) }
            guard i < text.endIndex else { return nil }
            i = text.index(after: i)
            guard i < text.endIndex, text[i] == ":" else { return nil }
        } else {
            guard let colon = text.firstIndex(where: { $0 == ":" }) else { return nil }
            let after = text.index(after: colon)
            guard after == text.endIndex || text[after] == " " else { return nil }
            key = String(text[..<colon])
            i = colon
            if key.contains(" ") && key.contains("[") { return nil }
        }
        let value = String(text[text.index(after: i)...]).trimmingLeadingSpaces()
        return key.isEmpty ? nil : (key, value)
    }

    static func scalarOrFlow(_ text: String, line: Int) throws -> YAMLValue {
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw ParseError(line: line, message: "unclosed [") }
            let inner = text.dropFirst().dropLast()
            var items: [YAMLValue] = []
            var current = ""
            var quote: Character? = nil
            for ch in inner {
                if let q = quote {
                    if ch == q { quote = nil } else { current.append(ch) }
                } else if ch == "\"" || ch == "'" {
                    quote = ch
                } else if ch == "," {
                    let t = current.trimmingLeadingSpaces().trimmingTrailingSpaces()
                    if !t.isEmpty { items.append(.scalar(t)) }
                    current = ""
                } else {
                    current.append(ch)
                }
            }
            let t = current.trimmingLeadingSpaces().trimmingTrailingSpaces()
            if !t.isEmpty { items.append(.scalar(t)) }
            return .list(items)
        }
        if text.hasPrefix("{") { throw ParseError(line: line, message: "flow mappings {...} are not supported; use indented keys") }
        if let q = text.first, q == "\"" || q == "'" {
            guard text.count >= 2, text.last == q else { throw ParseError(line: line, message: "unclosed quote") }
            return .scalar(String(text.dropFirst().dropLast()))
        }
        return .scalar(text)
    }
}

extension String {
    func trimmingLeadingSpaces() -> String { String(drop(while: { $0 == " " })) }
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
