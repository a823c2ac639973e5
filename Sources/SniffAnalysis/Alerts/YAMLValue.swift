import Yams

/// A rules file as a tree of strings, lists and ordered maps, parsed by Yams (libyaml):
/// the rule reader asks for keys and scalars and never sees YAML's typing (`60s`,
/// `yes` and `1` all stay the text that was written).
public enum YAMLValue: Sendable, Equatable {
    case scalar(String)
    case list([YAMLValue])
    case map([(String, YAMLValue)])

    public static func == (a: YAMLValue, b: YAMLValue) -> Bool {
        switch (a, b) {
        case (.scalar(let x), .scalar(let y)): return x == y
        case (.list(let x), .list(let y)): return x == y
        case (.map(let x), .map(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
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

    /// Parses YAML text. An empty document is an empty map. Errors carry the line libyaml
    /// reports and its description of the problem.
    public static func parse(_ text: String) throws -> YAMLValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw ParseError(line: line(of: e), message: message(of: e))
        }
        guard let node else { return .map([]) }
        return try value(node)
    }

    static func value(_ node: Node) throws -> YAMLValue {
        switch node {
        case .scalar(let s):
            return .scalar(s.string)
        case .sequence(let seq):
            return .list(try seq.map(value))
        case .mapping(let m):
            var pairs: [(String, YAMLValue)] = []
            for (k, v) in m {
                guard case .scalar(let key) = k else {
                    throw ParseError(line: k.mark?.line ?? 0, message: "a key must be plain text")
                }
                // libyaml accepts repeated keys; a rule file with one is a mistake.
                if pairs.contains(where: { $0.0 == key.string }) {
                    throw ParseError(line: k.mark?.line ?? 0, message: "duplicate key \"\(key.string)\"")
                }
                pairs.append((key.string, try value(v)))
            }
            return .map(pairs)
        case .alias:
            // compose(yaml:) resolves aliases to their anchored nodes; an alias left over
            // would point at nothing.
            throw ParseError(line: node.mark?.line ?? 0, message: "an alias (*name) without its anchor")
        }
    }

    static func line(of e: YamlError) -> Int {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        case .duplicatedKeysInMapping(_, let context): return context.mark.line
        default: return 0
        }
    }

    static func message(of e: YamlError) -> String {
        switch e {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
             .composer(let context, let problem, _, _):
            return context.map { "\(problem) (\($0.text))" } ?? problem
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicate key \"\(duplicates.joined(separator: "\", \""))\""
        default:
            return "\(e)"
        }
    }
}
