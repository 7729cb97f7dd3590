#pragma once

#include "store/sqlite.hpp"

namespace omnicache::store {

// The schema version this build writes (PRAGMA user_version).
int schema_version();

// Brings the database up to schema_version(), one migration per version, each
// in its own transaction. Throws Error(unsupported) for a database written by
// a newer omnicache.
void migrate(sqlite::Connection& db);

} // namespace omnicache::store
