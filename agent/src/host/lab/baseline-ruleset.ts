/**
 * The lab appliance's firewall: `nft -j list ruleset` as printed by nftables 1.0.6 after loading
 * the appliance baseline (inbound default drop, SSH only from the management network 10.99.0.0/24,
 * egress only to DNS, NTP and an allowlisted HTTPS set). Recorded on a Debian 12 machine in a
 * fresh network namespace (`unshare -n sh -c 'nft -f baseline.nft && nft -j list ruleset'`); the
 * same bytes are agent/src/checks/firewall/fixtures/baseline.json.
 */
export const LAB_BASELINE_RULESET = {
  nftables: [
    {
      metainfo: {
        version: "1.0.6",
        release_name: "Lester Gooch #5",
        json_schema_version: 1,
      },
    },
    {
      table: {
        family: "inet",
        name: "filter",
        handle: 1,
      },
    },
    {
      set: {
        family: "inet",
        name: "egress_v4",
        table: "filter",
        type: "ipv4_addr",
        handle: 4,
        elem: ["192.0.2.10", "198.51.100.20", "203.0.113.5"],
      },
    },
    {
      chain: {
        family: "inet",
        table: "filter",
        name: "input",
        handle: 1,
        type: "filter",
        hook: "input",
        prio: 0,
        policy: "drop",
      },
    },
    {
      chain: {
        family: "inet",
        table: "filter",
        name: "forward",
        handle: 2,
        type: "filter",
        hook: "forward",
        prio: 0,
        policy: "drop",
      },
    },
    {
      chain: {
        family: "inet",
        table: "filter",
        name: "output",
        handle: 3,
        type: "filter",
        hook: "output",
        prio: 0,
        policy: "drop",
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "input",
        handle: 5,
        expr: [
          {
            match: {
              op: "in",
              left: {
                ct: {
                  key: "state",
                },
              },
              right: ["established", "related"],
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "input",
        handle: 6,
        expr: [
          {
            match: {
              op: "in",
              left: {
                ct: {
                  key: "state",
                },
              },
              right: "invalid",
            },
          },
          {
            drop: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "input",
        handle: 7,
        expr: [
          {
            match: {
              op: "==",
              left: {
                meta: {
                  key: "iifname",
                },
              },
              right: "lo",
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "input",
        handle: 8,
        expr: [
          {
            match: {
              op: "==",
              left: {
                payload: {
                  protocol: "ip",
                  field: "protocol",
                },
              },
              right: "icmp",
            },
          },
          {
            match: {
              op: "==",
              left: {
                payload: {
                  protocol: "icmp",
                  field: "type",
                },
              },
              right: "echo-request",
            },
          },
          {
            limit: {
              rate: 5,
              burst: 5,
              per: "second",
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "input",
        handle: 9,
        expr: [
          {
            match: {
              op: "==",
              left: {
                payload: {
                  protocol: "ip",
                  field: "saddr",
                },
              },
              right: {
                prefix: {
                  addr: "10.99.0.0",
                  len: 24,
                },
              },
            },
          },
          {
            match: {
              op: "==",
              left: {
                payload: {
                  protocol: "tcp",
                  field: "dport",
                },
              },
              right: 22,
            },
          },
          {
            match: {
              op: "in",
              left: {
                ct: {
                  key: "state",
                },
              },
              right: "new",
            },
          },
          {
            counter: {
              packets: 0,
              bytes: 0,
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "input",
        handle: 10,
        expr: [
          {
            counter: {
              packets: 0,
              bytes: 0,
            },
          },
          {
            drop: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "output",
        handle: 11,
        expr: [
          {
            match: {
              op: "in",
              left: {
                ct: {
                  key: "state",
                },
              },
              right: ["established", "related"],
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "output",
        handle: 12,
        expr: [
          {
            match: {
              op: "==",
              left: {
                meta: {
                  key: "oifname",
                },
              },
              right: "lo",
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "output",
        handle: 13,
        expr: [
          {
            match: {
              op: "==",
              left: {
                payload: {
                  protocol: "udp",
                  field: "dport",
                },
              },
              right: 53,
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "output",
        handle: 14,
        expr: [
          {
            match: {
              op: "==",
              left: {
                payload: {
                  protocol: "udp",
                  field: "dport",
                },
              },
              right: 123,
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "output",
        handle: 15,
        expr: [
          {
            match: {
              op: "==",
              left: {
                payload: {
                  protocol: "ip",
                  field: "daddr",
                },
              },
              right: "@egress_v4",
            },
          },
          {
            match: {
              op: "==",
              left: {
                payload: {
                  protocol: "tcp",
                  field: "dport",
                },
              },
              right: 443,
            },
          },
          {
            counter: {
              packets: 0,
              bytes: 0,
            },
          },
          {
            accept: null,
          },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "output",
        handle: 16,
        expr: [
          {
            counter: {
              packets: 0,
              bytes: 0,
            },
          },
          {
            drop: null,
          },
        ],
      },
    },
  ],
} as const;
