/** ouzo's version, as `--version` and `emerge --info` print it. */
export const VERSION = "0.1.0";
