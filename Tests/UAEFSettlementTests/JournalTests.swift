import Testing
import UAEFCore
import UAEFSettlement

@Suite("Journal arithmetic never traps")
struct JournalOverflowTests {
    static let eur = Currency(code: "EUR")!

    @Test("a pending debit as large as a balance can hold is refused by the limit check, not a crash")
    func limitCheckIsWide() throws {
        let wallet = AccountDefinition(
            id: "wallet", kind: .asset, currency: Self.eur, limit: .debitsMustNotExceedCredits)
        let income = AccountDefinition(id: "income", kind: .revenue, currency: Self.eur, limit: nil)
        var debit = AccountBalance(debitsPosted: 1, creditsPosted: 1)
        var credit = AccountBalance()
        #expect(throws: JournalError.exceedsCredits(account: "wallet")) {
            try Journal.open(
                Int64.max, phase: .pending, debit: &debit, debitAccount: wallet, credit: &credit, creditAccount: income)
        }
        #expect(debit == AccountBalance(debitsPosted: 1, creditsPosted: 1))
    }

    @Test("balances and availability of counters near Int64's ends are exact, beyond Int64")
    func wideBalances() {
        let balance = AccountBalance(
            debitsPosted: 0, creditsPosted: Int64.max, debitsPending: Int64.max, creditsPending: 0)
        #expect(balance.available(.revenue) == Int128(Int64.max) - Int128(Int64.max))
        let drained = AccountBalance(
            debitsPosted: 0, creditsPosted: Int64.max, debitsPending: 0, creditsPending: Int64.max)
        #expect(balance.net == 0)
        #expect(drained.available(.asset) == -2 * Int128(Int64.max))
        #expect(
            Money.decimalText(minorUnits: drained.available(.asset), currency: Self.eur) == "-184467440737095516.14")
    }
}
