/// Why a group configuration file was refused: every problem found, each naming its field and,
/// where the file has one, its line.
public struct GroupFileError: Error, CustomStringConvertible, Sendable {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// 1-based line in the file (nil: the problem is about something missing or the whole file).
        public var line: Int?
        /// The field in dotted form: `protocol.commit-quorum`, `servers.data-servers[1].address`.
        public var field: String
        public var message: String

        public init(line: Int?, field: String, message: String) {
            self.line = line
            self.field = field
            self.message = message
        }

        public var description: String {
            let at = line.map { "line \($0): " } ?? ""
            return field.isEmpty ? "\(at)\(message)" : "\(at)\(field): \(message)"
        }
    }

    /// The file's name as the user gave it.
    public var source: String
    public var problems: [Problem]

    public init(source: String, problems: [Problem]) {
        self.source = source
        self.problems = problems
    }

    public var description: String {
        let head = "\(source): refused (\(problems.count) problem\(problems.count == 1 ? "" : "s"))"
        return ([head] + problems.map { "  \($0)" }).joined(separator: "\n")
    }
}
