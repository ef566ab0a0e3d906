/// A command-line failure with the exit code it maps to.
enum CLIError: Error, CustomStringConvertible {
    /// Bad arguments or input files: exit 2.
    case usage(String)
    /// The environment failed (store, files): exit 3.
    case operational(String)

    var description: String {
        switch self {
        case .usage(let message), .operational(let message): message
        }
    }

    var exitCode: Int32 {
        switch self {
        case .usage: 2
        case .operational: 3
        }
    }
}
