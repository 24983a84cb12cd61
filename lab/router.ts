// The lab's router (docs/design.md, the lab): a namespace on the LAN that forwards to a far segment,
// running a real BIRD 2 that peers with every node and installs what they announce into its kernel.
// Its kernel's routes are the oracle of the BGP tests: where a VIP's packets go, not what BGP said.
import { startBird, routerBirdConfig, type Bird, type BirdPaths } from "./bird.ts";
import { canonicalIp } from "./ip-address.ts";
import { inNamespace, run, type CommandResult } from "./netns.ts";
import type { ProcessGroup } from "./process.ts";
import type { NodeAddresses, RouterAddresses } from "./topology.ts";

export interface Router extends RouterAddresses, BirdPaths {
  /** Starts the router's BIRD if it is stopped. */
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** birdc on the router's socket; a stopped router's answers fail. */
  birdc(args: readonly string[]): Promise<CommandResult>;
  /**
   * The node addresses the router's kernel sends the VIP's packets to, sorted: none without a route,
   * one per next hop of a multipath route.
   */
  nextHops(vip: string): Promise<string[]>;
}

interface RouteJson {
  readonly gateway?: string;
  readonly nexthops?: readonly { readonly gateway?: string }[];
}

/** The gateways of `ip -j route show <vip>`: a route's own or those of its multipath next hops. */
export function gatewaysOf(routesJson: string): string[] {
  const routes = JSON.parse(routesJson === "" ? "[]" : routesJson) as RouteJson[];
  return routes
    .flatMap((route) => (route.nexthops ?? [route]).map((hop) => hop.gateway))
    .filter((gateway): gateway is string => gateway !== undefined)
    .map(canonicalIp)
    .sort();
}

export async function startRouter(
  group: ProcessGroup,
  options: { router: RouterAddresses; nodes: readonly NodeAddresses[]; paths: BirdPaths },
): Promise<Router> {
  const { router, paths } = options;
  const configText = routerBirdConfig(options.nodes);
  const launch = () => startBird(group, { ...paths, netns: router.netns, name: "router", configText });
  let bird: Bird | undefined = await launch();
  const birdc = (args: readonly string[]) =>
    run(inNamespace(router.netns, ["/usr/sbin/birdc", "-s", paths.socketPath, ...args]), {
      allowFailure: true,
    });
  return {
    ...router,
    ...paths,
    start: async () => {
      bird ??= await launch();
    },
    stop: async () => {
      await bird?.stop();
      bird = undefined;
    },
    restart: async () => {
      await bird?.stop();
      bird = await launch();
    },
    birdc,
    nextHops: async (vip) => {
      const family = vip.includes(":") ? "-6" : "-4";
      const shown = await run(inNamespace(router.netns, ["ip", "-j", family, "route", "show", vip]));
      return gatewaysOf(shown.stdout.trim());
    },
  };
}
