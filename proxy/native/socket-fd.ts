/**
 * The file descriptor behind a net.Socket, for originalDst(). It is a Node internal
 * (`_handle.fd`), so it lives with the others in proxy/node-internals.ts, whose start-up
 * self-test fails loudly if a Node release drops it.
 */
export { socketFd } from '../node-internals.js';
