// Addresses as the kernel and tcpdump print them, so that a test may write "2001:DB8:1:0::200" and
// still match what the observers see.
import { isIPv6 } from "node:net";

export function canonicalIp(address: string): string {
  return isIPv6(address) ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}
