import ArgumentParser

/// The `uaef` command line: the root command and its subcommands.
public struct UAEFCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "uaef",
        abstract: "Universal Autonomous Enterprise Fabric: durable workflows run by AI agents and programs.",
        version: "0.1.0",
        subcommands: [
            ValidateCommand.self, WorkflowsCommand.self, TemplatesCommand.self, RunCommand.self, SubmitCommand.self,
            ResumeCommand.self,
            RunsCommand.self,
            AgentsCommand.self,
            EventsCommand.self, LedgerCommand.self, RulesCommand.self, SettleCommand.self, SettlementsCommand.self,
            AccountsCommand.self, JournalCommand.self, ApprovalsCommand.self, SignalCommand.self, DemoCommand.self,
            BenchCommand.self, MigrateCommand.self, WorkerCommand.self, ServeCommand.self, TokensCommand.self,
            AgentCommand.self, SecretsCommand.self, ConnectorsCommand.self, SchedulesCommand.self,
            DeliveriesCommand.self, MCPCommand.self,
            DevCommand.self, LambdaCommand.self, MonitorCommand.self, AnalyticsCommand.self,
        ]
    )

    public init() {}
}
