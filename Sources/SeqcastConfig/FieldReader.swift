import Yams

/// Reads typed values out of a composed YAML tree (Yams parses; this only interprets), keeping
/// every field's dotted path and line so a refusal can point at it, refusing keys nobody reads,
/// and collecting every problem rather than stopping at the first.
final class FieldReader {
    private(set) var problems: [GroupFileError.Problem] = []
    /// The line of every field read, by dotted path (so later checks can point at it too).
    private(set) var lines: [String: Int] = [:]

    func fail(_ field: String, _ message: String, at node: Node? = nil) {
        problems.append(.init(line: node?.mark?.line ?? lines[field], field: field, message: message))
    }

    /// A problem found after reading, pointed at its field's line (or its section's).
    func fail(laterAt field: String, _ message: String) {
        var path = field
        var line = lines[path]
        while line == nil, let dot = path.lastIndex(where: { $0 == "." || $0 == "[" }) {
            path = String(path[..<dot])
            line = lines[path]
        }
        problems.append(.init(line: line, field: field, message: message))
    }

    /// A mapping's fields, with only `allowed` keys accepted.
    struct Section {
        let path: String
        let values: [String: Node]
    }

    func section(_ node: Node, path: String, allowed: [String]) -> Section? {
        guard let mapping = node.mapping else {
            fail(path, "must be a mapping of \(allowed.joined(separator: ", "))", at: node)
            return nil
        }
        if let line = node.mark?.line { lines[path] = line }
        var values: [String: Node] = [:]
        for (key, value) in mapping {
            let name = key.string ?? "?"
            let field = path.isEmpty ? name : "\(path).\(name)"
            guard allowed.contains(name) else {
                fail(field, "unknown field; allowed here: \(allowed.joined(separator: ", "))", at: key)
                continue
            }
            lines[field] = key.mark?.line ?? value.mark?.line
            values[name] = value
        }
        return Section(path: path, values: values)
    }

    func field(_ s: Section, _ key: String) -> String { s.path.isEmpty ? key : "\(s.path).\(key)" }

    /// A sub-mapping; nil (with a problem if `required`) when absent.
    func section(_ s: Section, _ key: String, allowed: [String], required: Bool = false) -> Section? {
        guard let n = s.values[key] else {
            if required { fail(field(s, key), "missing; this section is required", at: nil) }
            return nil
        }
        return section(n, path: field(s, key), allowed: allowed)
    }

    func sequence(_ s: Section, _ key: String, required: Bool) -> [Node]? {
        guard let n = s.values[key] else {
            if required { fail(field(s, key), "missing; a list is required", at: nil) }
            return nil
        }
        guard let items = n.sequence else {
            fail(field(s, key), "must be a list", at: n)
            return nil
        }
        return Array(items)
    }

    /// The scalar text of `key`, or nil if absent (a problem if `required`).
    func text(_ s: Section, _ key: String, required: Bool, what: String) -> (String, Node)? {
        guard let n = s.values[key] else {
            if required { fail(field(s, key), "missing; expected \(what)") }
            return nil
        }
        guard let scalar = n.scalar else {
            fail(field(s, key), "expected \(what), found a \(n.mapping != nil ? "mapping" : "list")", at: n)
            return nil
        }
        return (scalar.string, n)
    }

    func string(_ s: Section, _ key: String, required: Bool = false, what: String = "text") -> String? {
        text(s, key, required: required, what: what)?.0
    }

    /// An integer in `range` (decimal, or hex with 0x; `_` separators allowed).
    func integer<T: FixedWidthInteger>(_ s: Section, _ key: String, _ range: ClosedRange<T>,
                                       required: Bool = false) -> T? {
        let what = "an integer in \(range.lowerBound) … \(range.upperBound)"
        guard let (t, n) = text(s, key, required: required, what: what) else { return nil }
        guard let v = ConfigValue.integer(t, as: T.self), range.contains(v) else {
            fail(field(s, key), "\"\(t)\" refused; expected \(what)", at: n)
            return nil
        }
        return v
    }

    func duration(_ s: Section, _ key: String) -> UInt64? {
        guard let (t, n) = text(s, key, required: false, what: "a duration") else { return nil }
        guard let v = ConfigValue.duration(t) else {
            fail(field(s, key), "\"\(t)\" refused; expected a positive duration such as 20ms, 200us, 1s", at: n)
            return nil
        }
        return v
    }

    func endpoint(_ s: Section, _ key: String, required: Bool, multicast: Bool = false) -> (host: String, port: UInt16)? {
        let what = multicast ? "a multicast group as address:port (239.255.83.1:18301, [ff02::1:1]:18301)"
            : "an IP address and port (127.0.0.1:18401, [::1]:18401)"
        guard let (t, n) = text(s, key, required: required, what: what) else { return nil }
        guard let e = ConfigValue.endpoint(t) else {
            fail(field(s, key), "\"\(t)\" refused; expected \(what)", at: n)
            return nil
        }
        if multicast, !ConfigValue.isMulticast(e.host) {
            fail(field(s, key), "\(e.host) is not a multicast address (IPv4 224.0.0.0/4, IPv6 ff00::/8)", at: n)
            return nil
        }
        if !multicast, ConfigValue.isMulticast(e.host) {
            fail(field(s, key), "\(e.host) is a multicast address; a node listens on a unicast one", at: n)
            return nil
        }
        return e
    }

    func ipAddress(_ s: Section, _ key: String) -> String? {
        guard let (t, n) = text(s, key, required: false, what: "an IP address") else { return nil }
        guard ConfigValue.family(t) != nil else {
            fail(field(s, key), "\"\(t)\" is not an IP address (names are not resolved)", at: n)
            return nil
        }
        return t
    }
}
