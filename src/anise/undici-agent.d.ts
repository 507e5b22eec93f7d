// undici's Agent on its own (lib/dispatcher/agent.js, its module.exports): all the anise downloads
// use is its dispatch(). Importing undici's index also loads fetch, WebSocket, cookies and node's
// own copy of undici with its web streams: ~40 ms of the single-threaded start of every install.
declare module "undici/lib/dispatcher/agent.js" {
  import { Agent } from "undici";
  export default Agent;
}
