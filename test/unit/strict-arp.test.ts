import test from "ava";
import { strictArpProblem } from "../../src/net/strict-arp.ts";

test("no kube-ipvs0: nothing to say", (t) => {
  t.is(strictArpProblem({ ipvsInterfacePresent: false, arpIgnore: 0 }), null);
});

test("IPVS with strict ARP is fine", (t) => {
  t.is(strictArpProblem({ ipvsInterfacePresent: true, arpIgnore: 1 }), null);
  t.is(strictArpProblem({ ipvsInterfacePresent: true, arpIgnore: 2 }), null);
});

test("IPVS without strict ARP is named, with the fix", (t) => {
  t.regex(
    strictArpProblem({ ipvsInterfacePresent: true, arpIgnore: 0 }) ?? "",
    /arp_ignore 0.*strictARP: true/,
  );
  t.regex(strictArpProblem({ ipvsInterfacePresent: true, arpIgnore: null }) ?? "", /arp_ignore unreadable/);
});
