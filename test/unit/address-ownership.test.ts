import test from "ava";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AddressRecord,
  chooseAddressOwnership,
  KernelMark,
  MARK_PROBE_ADDRESS,
  probeKernelMark,
  type ListedAddress,
} from "../../src/net/address-ownership.ts";
import { VIPD_ADDRESS_PROTOCOL, type AddAddressOptions, type Address } from "../../src/net/netlink.ts";

const BOOT = "0b1a2c3d-boot";
const KEY = { ifindex: 2, address: "198.51.100.70", prefixLength: 32 };

function listed(overrides: Partial<ListedAddress> = {}): ListedAddress {
  return { ...KEY, protocol: 0, validLifetime: 30, ...overrides };
}

function recordFile(t: { teardown: (fn: () => void) => void }): string {
  const directory = mkdtempSync(path.join(tmpdir(), "vipd-record-"));
  t.teardown(() => {
    rmSync(directory, { recursive: true, force: true });
  });
  return path.join(directory, "run", "services.addresses");
}

test("the kernel mark: marked and expiring is vipd's; permanent or unmarked is not", (t) => {
  const mark = new KernelMark();
  t.true(mark.owns(listed({ protocol: VIPD_ADDRESS_PROTOCOL })));
  t.false(mark.owns(listed({ protocol: VIPD_ADDRESS_PROTOCOL, validLifetime: Infinity })));
  t.false(mark.owns(listed()));
});

test("the record: an address is vipd's from before its add until its removal, and survives a restart", (t) => {
  const file = recordFile(t);
  const record = AddressRecord.open({ file, bootId: BOOT });
  t.false(record.owns(listed()));
  record.adding(KEY);
  t.true(record.owns(listed()));
  t.false(record.owns(listed({ validLifetime: Infinity })), "a permanent address is nobody's VIP");
  t.false(record.owns(listed({ prefixLength: 24 })), "another prefix length is another address");
  t.false(record.owns(listed({ ifindex: 3 })));
  const reopened = AddressRecord.open({ file, bootId: BOOT });
  t.deepEqual(reopened.entries(), ["2 198.51.100.70/32"]);
  reopened.removed(KEY);
  t.deepEqual(AddressRecord.open({ file, bootId: BOOT }).entries(), []);
});

test("the record of another boot, and a torn last line, count for nothing", (t) => {
  const file = recordFile(t);
  AddressRecord.open({ file, bootId: BOOT }).adding(KEY);
  t.deepEqual(AddressRecord.open({ file, bootId: "another-boot" }).entries(), []);
  const record = AddressRecord.open({ file, bootId: BOOT });
  record.adding(KEY);
  appendFileSync(file, "+ 2 198.51.1");
  t.deepEqual(AddressRecord.open({ file, bootId: BOOT }).entries(), ["2 198.51.100.70/32"]);
});

test("prune drops entries whose address is gone or has become permanent", (t) => {
  const file = recordFile(t);
  const record = AddressRecord.open({ file, bootId: BOOT });
  const other = { ifindex: 2, address: "198.51.100.71", prefixLength: 32 };
  const third = { ifindex: 2, address: "198.51.100.72", prefixLength: 32 };
  for (const key of [KEY, other, third]) record.adding(key);
  record.prune([listed(), listed({ ...other, validLifetime: Infinity })]);
  t.deepEqual(record.entries(), ["2 198.51.100.70/32"]);
  t.deepEqual(AddressRecord.open({ file, bootId: BOOT }).entries(), ["2 198.51.100.70/32"]);
});

test("the record is compacted when it has grown, keeping what is live", (t) => {
  const file = recordFile(t);
  const record = AddressRecord.open({ file, bootId: BOOT });
  record.adding(KEY);
  for (let round = 0; round < 500; round++) {
    const key = { ifindex: 2, address: "198.51.100.80", prefixLength: 32 };
    record.adding(key);
    record.removed(key);
  }
  t.true(readFileSync(file, "utf8").split("\n").length < 300);
  t.deepEqual(AddressRecord.open({ file, bootId: BOOT }).entries(), ["2 198.51.100.70/32"]);
});

test("the record's directory that cannot be created stops the agent from starting", (t) => {
  const file = recordFile(t);
  writeFileSync(path.dirname(path.dirname(file)) + "/run", "a file, not a directory");
  t.throws(() => AddressRecord.open({ file, bootId: BOOT }));
});

/** A loopback whose kernel keeps IFA_PROTO or drops it, with a log of the probe's calls. */
function loopback(options: { keeps: boolean; existing?: number }) {
  const addresses: Address[] = [];
  const log: string[] = [];
  if (options.existing !== undefined) {
    addresses.push({
      ifindex: 1,
      family: 4,
      address: MARK_PROBE_ADDRESS,
      prefixLength: 32,
      protocol: options.existing,
      validLifetime: 5,
      preferredLifetime: 5,
      flags: [],
      label: "lo",
    });
  }
  return {
    log,
    listLinks: () => [
      {
        index: 1,
        name: "lo",
        mac: null,
        mtu: 65536,
        operstate: "unknown" as const,
        carrier: true,
        up: true,
        loopback: true,
        noArp: true,
      },
    ],
    listAddresses: () => addresses,
    addAddress: (request: AddAddressOptions) => {
      log.push(`add ${request.address}/${request.prefixLength} lifetime ${request.validLifetime}`);
      if (addresses.length > 0) throw Object.assign(new Error("EEXIST"), { code: "EEXIST" });
      addresses.push({
        ...request,
        family: 4,
        protocol: options.keeps ? request.protocol : 0,
        flags: [],
        label: "lo",
      });
    },
    deleteAddress: (key: { address: string }) => {
      log.push(`delete ${key.address}`);
      addresses.length = 0;
    },
  };
}

test("the start-up probe reads the mark back from a short-lived loopback address and removes it", (t) => {
  const keeping = loopback({ keeps: true });
  t.deepEqual(probeKernelMark(keeping), { keeps: true });
  t.deepEqual(keeping.log, [`add ${MARK_PROBE_ADDRESS}/32 lifetime 5`, `delete ${MARK_PROBE_ADDRESS}`]);
  const dropping = loopback({ keeps: false });
  t.false(probeKernelMark(dropping).keeps);
  t.deepEqual(dropping.log.at(-1), `delete ${MARK_PROBE_ADDRESS}`);
});

test("a probe address that is there already is never removed; only a marked one answers", (t) => {
  const another = loopback({ keeps: true, existing: VIPD_ADDRESS_PROTOCOL });
  t.deepEqual(probeKernelMark(another), { keeps: true });
  const unmarked = loopback({ keeps: true, existing: 0 });
  t.false(probeKernelMark(unmarked).keeps);
  t.false([...another.log, ...unmarked.log].some((line) => line.startsWith("delete")));
});

test("--address-marking: auto falls back to the record, kernel refuses, record never probes", (t) => {
  const file = recordFile(t);
  const dropping = loopback({ keeps: false });
  const auto = chooseAddressOwnership({ marking: "auto", netlink: dropping, recordFile: file, bootId: BOOT });
  t.is(auto.ownership.method, "record");
  t.is(auto.ownership.protocol, 0, "an unmarked address, as that kernel makes it");
  t.throws(() =>
    chooseAddressOwnership({ marking: "kernel", netlink: dropping, recordFile: file, bootId: BOOT }),
  );
  const keeping = loopback({ keeps: true });
  t.is(
    chooseAddressOwnership({ marking: "auto", netlink: keeping, recordFile: file, bootId: BOOT }).ownership
      .method,
    "kernel",
  );
  const forced = loopback({ keeps: true });
  t.is(
    chooseAddressOwnership({ marking: "record", netlink: forced, recordFile: file, bootId: BOOT }).ownership
      .method,
    "record",
  );
  t.deepEqual(forced.log, []);
});
