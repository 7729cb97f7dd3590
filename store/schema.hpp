#pragma once

#include "store/sqlite.hpp"

namespace omnicache::store {

// The schema version this build writes (PRAGMA user_version).
int schema_version();

// Brings the database up to schema_version(), one migration per version, each
// in its own transaction. Throws sqlite::UnusableDatabase for a database it
// cannot use: UNSUPPORTED for one written by a newer omnicache, INTERNAL for
// another program's.
void migrate(sqlite::Connection& db);

} // namespace omnicache::store
