/// The demo's workflow, agents and settlement rules, identical to examples/invoice-processing.yaml,
/// examples/agents.yaml and examples/invoice-settlement.yaml (a test keeps them in step).
enum DemoWorkflow {
    /// The agents the workflow asks for by capability, identical to examples/agents.yaml.
    static let agents = #"""
        # The agents the invoice example asks for by capability: `uaef demo` registers these.
        # Both run a program on the host (kind command): on `uaef serve` that needs --allow-command and
        # an administrator's token to register them (docs/security.md).
        agents:
          - name: classifier
            kind: command
            capabilities: [classify]
            max_concurrency: 2
            activate: true
            config:
              command: [sh, -c, 'cat >/dev/null; echo ''{"category": "office supplies", "gl_account": "6400"}''']
          - name: erp-gateway
            kind: command
            capabilities: [erp.post]
            max_concurrency: 4
            activate: true
            config:
              # A flaky ERP call: the first attempt times out, the retry posts the document.
              command:
                - sh
                - -c
                - |
                  if [ "$UAEF_ATTEMPT" = 1 ]; then echo "ERP gateway timeout" >&2; exit 75; fi
                  echo "{\"erp_document\": \"5100000042\", \"idempotency_key\": \"$UAEF_IDEMPOTENCY_KEY\"}"

        """#

    static let text = #"""
        # Invoice processing: the workflow `uaef demo` runs.
        # Parallel extraction, agents found by capability (examples/agents.yaml), a branch on the amount,
        # a fan-out over the line items, a flaky ERP call that succeeds on its second attempt, and a
        # compensation task that runs only if posting fails.
        name: invoice-processing
        version: 1
        description: Extract, classify, approve, price and post a supplier invoice.
        inputs:
          invoice_id: INV-2026-0042
          vendor: ACME Office Supplies
          total: 1249.90
          lines:
            - {sku: PAPER-A4, qty: 40, unit_price: 4.99}
            - {sku: TONER-K, qty: 6, unit_price: 89.50}
            - {sku: CHAIR-ERG, qty: 2, unit_price: 262.17}
        timeout: 2m
        concurrency: 8
        tasks:
          - id: extract_header
            agent: echo
            with:
              invoice: ${{ inputs.invoice_id }}
              vendor: ${{ upper(inputs.vendor) }}
              total: ${{ inputs.total }}

          - id: extract_lines
            agent: echo
            with:
              count: ${{ len(inputs.lines) }}
              lines: ${{ inputs.lines }}

          - id: classify
            capability: classify
            depends_on: [extract_header]
            with:
              stdin: ${{ tasks.extract_header.output }}

          - id: manager_review
            agent: echo
            depends_on: [extract_header, classify]
            when: ${{ tasks.extract_header.output.total > 1000 }}
            with:
              message: "Invoice ${{ inputs.invoice_id }} over 1000 (${{ tasks.extract_header.output.total }}): routed to a manager"

          - id: auto_approve
            agent: echo
            depends_on: [extract_header, classify]
            when: ${{ tasks.extract_header.output.total <= 1000 }}
            with:
              message: auto-approved

          - id: price_line
            agent: echo
            depends_on: [extract_lines]
            for_each: ${{ tasks.extract_lines.output.lines }}
            with:
              line: ${{ index + 1 }}
              sku: ${{ item.sku }}
              amount: ${{ item.qty * item.unit_price }}

          - id: post_to_erp
            capability: erp.post
            depends_on: [price_line, manager_review, auto_approve]
            retry: {max_attempts: 3, backoff: 200ms}
            timeout: 10s

          - id: notify_failure
            agent: echo
            depends_on: [post_to_erp]
            trigger: one_failed
            with:
              message: "Posting ${{ inputs.invoice_id }} failed; finance has been alerted"

        """#

    /// The demo's settlement rules, identical to examples/invoice-settlement.yaml.
    static let rules = #"""
        # Settlement rules for the invoice example: the extraction agent is paid per line it read, the
        # platform takes a 2.5 % fee on every processed invoice, and the vendor's invoice is booked as
        # payable when the run succeeds; amounts over 1,000.00 wait for two finance approvers.
        accounts:
          - {id: "expense:extraction", type: expense, currency: EUR}
          - {id: "agent:extractor", type: liability, currency: EUR}
          - {id: "expense:platform-fees", type: expense, currency: EUR}
          - {id: "revenue:platform", type: revenue, currency: EUR}
          - {id: "expense:purchases", type: expense, currency: EUR}
          - {id: "payable:vendors", type: liability, currency: EUR}

        rules:
          - id: pay-extraction
            description: The extraction agent earns 0.40 per invoice line it extracted.
            on: task.succeeded
            match: {workflow: invoice-processing, task: extract_lines}
            amount:
              per_unit: {rate: "0.40", quantity: "${{ output.count }}"}
            min: "0.50"
            currency: EUR
            from: "expense:extraction"
            to: "agent:extractor"

          - id: platform-fee
            description: 2.5 % of the invoice total for every invoice processed.
            on: run.succeeded
            match: {workflow: invoice-processing}
            amount:
              percent: {rate: "2.5", of: "${{ inputs.total }}"}
            currency: EUR
            rounding: half_up
            from: "expense:platform-fees"
            to: "revenue:platform"

          - id: book-vendor-invoice
            description: The invoice total is owed to the vendor once processing succeeds.
            on: run.succeeded
            match: {workflow: invoice-processing}
            amount:
              formula: "${{ inputs.total }}"
            currency: EUR
            from: "expense:purchases"
            to: "payable:vendors"
            approval: {above: "1000.00", approvers: 2, role: finance, expires: 72h}

        """#
}
