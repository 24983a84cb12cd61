// The V8 flags vipd's process runs with, wherever it is started: the container image's entry point
// and the lab's agents use this list (a test holds the Dockerfile to it).
//
// V8 sizes the young generation for throughput, up to 2 × 32 MB of semi-spaces that, once a burst
// of claims has grown them, stay resident. vipd allocates little and briefly; 1 MB semi-spaces cost
// a few more scavenges during a burst and keep the resident size of an agent holding a thousand
// VIPs well below what the default sizing leaves behind.
export const NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1"];
