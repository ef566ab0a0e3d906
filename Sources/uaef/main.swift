import UAEFCLI

CommandLineEntry.prepareProcess()
await CommandLineEntry.main()
