import UAEFCLI

await CommandLineEntry.main()
