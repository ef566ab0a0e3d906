/// What a tenant's name may be: 1 to 64 ASCII letters, digits, `_`, `.` or `-`. Tenants come from
/// tokens and `--tenant`, and appear in keys, log lines and events, so nothing else is accepted.
public enum TenantName {
    /// The rule, as messages state it.
    public static let pattern = "1 to 64 letters, digits, '_', '.' or '-'"

    /// True for a name of ``pattern``.
    public static func isValid(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F
                    || $0 == 0x2D || $0 == 0x2E
            }
    }
}
