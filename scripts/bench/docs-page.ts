// docs/benchmarks.md: how the figures are produced and how to reproduce them, then the latest
// summary. The page is generated whole, so it can never describe a run other than the one shown.
import { headlines } from "./report-markdown.ts";
import { routedHeadline } from "./report-routed.ts";
import type { BenchResults } from "./results.ts";

const METHOD = `## How these figures are produced

\`npm run bench\` (as root, Linux, the Go toolchain for the first build of the lab's API server)
runs every figure below in [the lab](design.md#the-lab): a real kube-apiserver with etcd, nodes
as network namespaces on one bridge, real \`vipd run\` agents, and a client on the same LAN.
Nothing is simulated; faults are injected on the bridge side of a link or by signalling the agent.
The agents run the program the container image ships (\`dist/vipd.js\`, built by \`npm run build\`)
with its V8 flags.

- **Failover.** For each profile, scenario and repetition a new LoadBalancer Service with its own
  VIP (198.51.100.100–199) is created, and three observers run from before it exists until after
  the scenario's way back: the client probe (a UDP request every 5 ms; each answer names the node
  that gave it), tcpdump on the client's port (every ARP and NDP frame for the VIP, the
  double-answer oracle), and an address sampler that reads every node's interface every 5 ms.
  The *outage* is the longest time the client went without an answer after the fault: from the
  arrival of the last answer before a run of lost probes to the arrival of the first answer after
  it (arrivals, because requests sent during an outage can wait in the client's neighbour queue and
  be answered once the new holder announces itself). *Fault → new holder* runs from the fault to
  the arrival of the first answer from another node; *fault → status*
  until \`status.loadBalancer.ingress\` and \`vipd.io/holder\` name that node, as seen by a watch.
  *Double answers* are ARP requests or neighbour solicitations answered by two MACs; *address
  overlaps* are moments when two nodes' kernels held the VIP, leaving out times when one of them
  had no LAN link (a dead node keeps its address until the lifetime expires it, but nobody can
  hear it). Both must be zero.
- **BGP and ECMP.** The same faults for addresses announced in the \`bgp\` and \`ecmp\` modes
  (VIPs from 203.0.113.192/26, on no link's subnet), with [the lab's router](design.md#the-lab)
  added: a real BIRD 2 peering with a BIRD on every node, which the agents configure, and a far
  client behind it, so the client's traffic follows the router's routes. The far client sends many
  UDP flows at once, each from its own source port (the router's multipath hash takes ports in),
  and the router's kernel route for the VIP is sampled every 5 ms. For \`bgp\` the oracles are the
  router never routing the address to two nodes and no moment answered by two nodes; for \`ecmp\`
  the figures are the spread of flows over the nodes and the outage of the flows that hashed to the
  failed node. Node death is measured with BFD and without it (then only the hold time, shortened
  for the bench, takes a dead node's route away).
- **Latency.** Services are created one at a time with a probe already running; the clock starts
  when the create request is sent.
- **Scale.** N Services (IPv6 VIPs from 2001:db8:1::1:0/112, so that thousands fit) are created at
  once on freshly started agents. A single prober in the client namespace asks for every VIP at
  Layer 2 (ARP / neighbour solicitation, around the kernel's neighbour table, which would overflow)
  and records when each node's kernel first answers. After every status is written, once no agent
  has had an API request queued behind its request limit for 5 s, and after a further 5 s, a
  steady-state window measures API requests per second from the API server's own
  \`apiserver_request_total\` (so they include everything anyone sent, which is why the API server
  alone is measured first), agent CPU from \`/proc/<pid>/stat\`, RSS from \`/proc/<pid>/status\`, and
  event-loop lag from the agent's prom-client metrics (\`nodejs_eventloop_lag_p99_seconds\`, reset on
  every scrape, so it covers the window).
- **Allocation.** A VIPPool (the smallest CIDR in 2001:db8:1::2:0/112 that holds them all), then N
  Services that name no address (IPv6 SingleStack, annotated \`vipd.io/pool\`) created at once on
  freshly started agents. Per Service: *created* is when its create request returned, *allocated*
  when the bench's own watch saw the VIPAllocation naming it, *answering* when its address first
  answered the prober (as in the scale suite, which asks for every address of the pool), and
  *status written* as in the failover suite. A leg whose two ends were seen in the other order
  counts as 0. The steady-state window of the scale suite is measured twice against the same
  agents: with the pool and no Service, then with every Service allocated and served; writes to
  VIPAllocations and VIPPools in the second must be zero.

Percentiles use the nearest-rank method: each is a measured value, and with fewer than 100
repetitions p99 is the maximum.

## Reproduce

\`\`\`sh
sudo npm run bench                       # everything (about 3¼ hours on 2 cores): 20 repetitions, both profiles, bgp and ecmp, 100/1000/5000 Services, 1000 allocated
sudo npm run bench -- --quick            # smoke run of a few minutes (does not touch this page)
sudo npm run bench -- --suites=routed --append bench/results/<file>.json   # add bgp and ecmp failover to a run's results
sudo npm run bench -- --help             # every flag: --repetitions, --profiles, --scenarios, --routed-scenarios, --scale, --allocation-services, --nodes, --window, …
sudo npm run bench:data-path             # the cost of one frame sent, one address added or refreshed, in µs
\`\`\`

A long run can be split into parts that each bring the lab up once, adding to one results file:
\`--append bench/results/<file>.json\`. \`--render <file>\` renders this page and the plots again
from a results file without running anything.
`;

function ms(value: number | undefined): string {
  return value === undefined ? "not measured" : `${Math.round(value)} ms`;
}

export function benchmarksPage(options: {
  results: BenchResults;
  summary: string;
  resultsPath: string;
}): string {
  const figures = headlines(options.results);
  const writes = figures.writesPerSecondByServices
    .map(
      (run) => `${run.writesPerSecond.toFixed(2)} writes/s at ${run.services} Services (${run.nodes} nodes)`,
    )
    .join(", ");
  const repetitions = options.results.failover.length;
  const routed = routedHeadline(options.results);
  return [
    "# Benchmarks",
    "",
    "<!-- Generated by `npm run bench` from the results file named below; edit scripts/bench/docs-page.ts instead. -->",
    "",
    `Headline figures (default profile, D = 5 s): polite handover p50 ${ms(figures.politeP50Ms)} / p99 ${ms(figures.politeP99Ms)}; ` +
      `node death p50 ${ms(figures.nodeDeathP50Ms)}; ` +
      `${figures.doubleAnswers} double answers or address overlaps in ${repetitions} failover repetitions; ` +
      `${writes === "" ? "API writes not measured" : writes}.`,
    ...(routed === undefined ? [] : ["", routed]),
    "",
    `Raw samples and the environment: [${options.resultsPath}](${options.resultsPath}).`,
    "",
    METHOD,
    "## Latest results",
    "",
    options.summary,
  ].join("\n");
}
