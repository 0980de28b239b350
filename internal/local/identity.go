package local

// Identity by server lives in the engines (mysql.SameServer,
// postgres.SameServer, engines.SameDatabase): host names can't tell
// whether two connection strings reach one server, so the servers are
// asked. The local provider uses them before its lock (preflight,
// Server.Preflight and EnsureIdentity, in each engine's localserver).
