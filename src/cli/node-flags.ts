// The V8 flags vipd's process runs with, wherever it is started: the container image's entry point
// and the lab's agents use this list (a test holds the Dockerfile to it).
//
// V8 sizes the heap for throughput, and what a burst of claims grows stays resident: up to 2 × 32 MB
// of semi-spaces, and an old space that an agent holding a thousand VIPs left at 64–128 MB for 55 MB
// of live objects. vipd allocates little and briefly. 1 MB semi-spaces cost a few more scavenges
// during a burst; --optimize-for-size grows the old space in smaller steps and gives it back sooner
// (that agent: 58 MB of heap for the same objects, with no measurable change in CPU).
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--optimize-for-size"];
