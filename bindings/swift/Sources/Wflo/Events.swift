import Foundation
import WfloNative

/// A level of the engine's events, as `WFLO_LOG` names them.
public typealias LogLevel = WfloNative.LogLevel

/// Where the engine's events go: a function given the level and the line. The default
/// writes them to standard error as `wflo info refused: call refused before sending …`.
public typealias LogHandler = @Sendable (LogLevel, String) -> Void

/// Routes wflo's events at `level` and above to `handler`, for the whole process: "error",
/// "warn", "info", "debug" or "trace" (as `WFLO_LOG` takes them); nil or "off" silences them.
/// Replaces whatever was routed before (`WFLO_LOG`'s level included). An unknown level throws
/// `WfloError.invalidArgument`. Returns the level in force (nil: silent).
///
/// The engine's events are refusals, clamps, overruns, checkpoints and rollbacks at info,
/// budget alerts at warn, every reservation and settlement at debug: one line each, with ids,
/// labels, model names, token counts and amounts — never a prompt, a reply or a key. They are
/// silent until `WFLO_LOG` (read when the first `Engine` opens) or this function routes them.
@discardableResult
public func logEvents(_ level: String? = "info", to handler: @escaping LogHandler = WfloLog.standardError) throws
    -> LogLevel? {
    try engineCall { try setLogSink(level: level ?? "off", sink: WfloLog.Sink(handler)) }
}

/// The default route of the engine's events, and `WFLO_LOG`.
public enum WfloLog {
    /// Writes a line to standard error: `wflo info refused: …`.
    public static let standardError: LogHandler = { level, line in
        FileHandle.standardError.write(Data("wflo \(WfloLog.name(level)) \(line)\n".utf8))
    }

    static func name(_ level: LogLevel) -> String {
        switch level {
        case .error: return "error"
        case .warn: return "warn"
        case .info: return "info"
        case .debug: return "debug"
        case .trace: return "trace"
        }
    }

    final class Sink: WfloNative.LogSink, @unchecked Sendable {
        private let handler: LogHandler

        init(_ handler: @escaping LogHandler) {
            self.handler = handler
        }

        func log(level: LogLevel, line: String) throws {
            handler(level, line)
        }
    }

    /// `WFLO_LOG`'s level on standard error, once per process (`Engine.open` asks). An unknown
    /// value is refused: wflo stays silent and says so on standard error.
    static let fromEnvironment: Void = {
        do {
            if try engineCall({ try logLevelFromEnv() }) != nil {
                _ = try engineCall { try setLogSink(level: nil, sink: WfloLog.Sink(WfloLog.standardError)) }
            }
        } catch {
            let message = (error as? WfloError)?.message ?? "\(error)"
            FileHandle.standardError.write(Data("wflo: \(message); wflo's events stay silent\n".utf8))
        }
    }()
}
