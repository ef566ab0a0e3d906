import ArgumentParser

/// `--capability C` (repeatable): the capabilities whose attempts a long-running process executes
/// itself; attempts of other capabilities in the runs it orchestrates are queued for workers that
/// serve them.
struct CapabilityOptions: ParsableArguments {
    @Option(
        name: .customLong("capability"),
        help: ArgumentHelp(
            "Execute only attempts of tasks asking for this capability (repeatable); default: every capability.",
            valueName: "capability"))
    var capabilities: [String] = []

    func validate() throws {
        for capability in capabilities where capability.isEmpty || capability.contains(where: \.isWhitespace) {
            throw ValidationError("--capability \"\(capability)\": a capability is a non-empty name without spaces")
        }
    }

    /// The capabilities served, or nil for every one.
    var served: Set<String>? { capabilities.isEmpty ? nil : Set(capabilities) }
}
