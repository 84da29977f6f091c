import Logging

/// What a node says goes through swift-log: once-only notices at `info`, lines the runtime
/// marks `warning:` at `warning`, alarms (a number bound twice, a message id with two bodies)
/// at `critical`. Never per message.
public enum LogLines {
    /// The runtime's one-line notices, sent to `logger` at their level.
    public static func to(_ logger: Logger) -> @Sendable (String) -> Void {
        { line in
            if line.hasPrefix("ALARM") {
                logger.critical("\(line)")
            } else if line.hasPrefix("warning: ") {
                logger.warning("\(line.dropFirst("warning: ".count))")
            } else {
                logger.info("\(line)")
            }
        }
    }
}
