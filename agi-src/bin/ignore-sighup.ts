// Imported first by every AGI entry point, so it runs before any other module: Asterisk sends
// SIGHUP when the caller hangs up, possibly while node is still loading the bundle, and the
// default action would kill the AGI mid-way. The runner adds its own listener later to mark
// the channel as hung up.
process.on('SIGHUP', () => undefined);
