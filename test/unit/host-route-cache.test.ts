// What the data plane knows of vipd's host routes: a reading is reused while young enough, shared
// while under way, and vipd's own changes made while one is under way are not lost to it.
import test from "ava";
import type { Vip } from "../../src/agent/service-intent.ts";
import type { ForeignRoute, HostRoutes } from "../../src/routing/host-routes.ts";
import { HostRouteCache } from "../../src/routing/host-route-cache.ts";
import { FakeClock } from "./fakes/clock.ts";

const A: Vip = { address: "203.0.113.10", family: 4 };
const B: Vip = { address: "203.0.113.11", family: 4 };

/** Routes whose listings answer only when the test lets them, with what was there when asked. */
class SlowRoutes implements HostRoutes {
  readonly own = new Map<string, Vip>();
  readonly waiting: (() => void)[] = [];
  listings = 0;

  install(vip: Vip): Promise<void> {
    this.own.set(vip.address, vip);
    return Promise.resolve();
  }

  remove(vip: Vip): Promise<void> {
    this.own.delete(vip.address);
    return Promise.resolve();
  }

  foreign(): Promise<readonly ForeignRoute[]> {
    return Promise.resolve([]);
  }

  installed(): Promise<readonly Vip[]> {
    this.listings++;
    const asked = [...this.own.values()];
    return new Promise((resolve) => {
      this.waiting.push(() => {
        resolve(asked);
      });
    });
  }

  answer(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

function setup() {
  const routes = new SlowRoutes();
  const clock = new FakeClock();
  return { routes, clock, cache: new HostRouteCache({ routes, clock }) };
}

test("changes made while a reading is under way survive what the reading found", async (t) => {
  const { routes, cache } = setup();
  await cache.install(A);
  const reading = cache.read(0);
  await cache.install(B);
  await cache.remove(A);
  routes.answer();
  const found = await reading;
  t.deepEqual([...found.keys()], [B.address]);
  t.true(cache.has(B.address));
  t.false(cache.has(A.address));
});

test("a route removed by someone is gone after the next reading, not before", async (t) => {
  const { routes, cache } = setup();
  await cache.install(A);
  routes.own.delete(A.address);
  t.true(cache.has(A.address));
  const reading = cache.read(0);
  routes.answer();
  await reading;
  t.false(cache.has(A.address));
});

test("a young reading is reused and one under way is shared", async (t) => {
  const { routes, clock, cache } = setup();
  const first = cache.read(0);
  const second = cache.read(0);
  routes.answer();
  await Promise.all([first, second]);
  t.is(routes.listings, 1, "shared");
  await cache.read(500);
  t.is(routes.listings, 1, "young enough");
  clock.advance(501);
  const third = cache.read(500);
  routes.answer();
  await third;
  t.is(routes.listings, 2);
});
