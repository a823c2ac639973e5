/// SQLite's own schema code: the conversions of whole tables that the registry
/// (`Schema.versions`) names, the compact tables' statements and the lookup tables.
enum SQLiteSchema {}
