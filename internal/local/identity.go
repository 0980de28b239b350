package local

// Identity by server lives in the engines (mysql.SameServer,
// postgres.SameServer, engines.SameDatabase): host names can't tell
// whether two connection strings reach one server, so the servers are
// asked. The local provider uses them before its lock (preflight,
// Guard.CheckIdentity, in each engine's localserver; Provider.preflight
// and Restore call it).
