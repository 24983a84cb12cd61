// Interface names are at most IFNAMSIZ - 1 = 15 bytes and cannot hold '/', ':' or whitespace.
export const INTERFACE_NAME_PATTERN = /^[^\s/:]{1,15}$/;

/** Picks the interface whose connected subnet contains the VIP. */
export const AUTO_INTERFACE = "auto";
