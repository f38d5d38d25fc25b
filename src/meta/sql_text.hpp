// How the stores' logic is written once for both databases. Internal to meta/.
//
// Every store (metadata, account, policy, check, gc, proxy) is one class template over a `Db`,
// in sql_<x>_store.hpp, in a namespace of its own: sql::proxy::BasicProxyStore<Db> and so on
// (the metadata store's SQL and steps in sql_metadata_steps.hpp, lookups several stores share
// in sql_lookups.hpp). Its methods are the same for SQLite and PostgreSQL: they borrow a
// connection through Db::Database's read()/write()/write_durable(), run statements through
// Connection::query(sql, purpose, args...) and read the rows with the helpers of sql_rows.hpp.
// What differs between the databases is said in two places only:
//  - the Db traits, sqlite::Db (sqlite_database.hpp) and pg::Db (pg_database.hpp): the
//    Database, Connection and Statement types, the name errors start with, and the dialect;
//  - the SQL text, an sql::Text per statement, beside the store's template.
// sqlite_<x>_store.cpp and pg_<x>_store.cpp then only make the store over their database
// (make_x_store; each is its own compile unit, so a store's template is compiled twice, once
// per database, in parallel), and keep what is truly specific to one database (SQLite's
// query-plan list for its tests; the pool and transactions live in the Database classes).
//
// A statement is written once, in SQLite's spelling with numbered parameters (?1, ?2, ...),
// whenever the two dialects agree but for the parameters: Text makes PostgreSQL's $1, $2, ...
// from it at compile time (same length, so no allocation, and a '?' that is not a parameter
// is a compile error rather than a broken statement). Where the dialects disagree (group_concat
// and string_agg, max and GREATEST, "user" as a keyword, casts), the Text holds both
// spellings, SQLite's first and both with ?N parameters: Text{"sqlite ...", "postgres ..."}.
// A long statement that differs in a few words is a macro of the dialect, BERTH_X(d), in which
// each such word is BERTH_SQL_IN(BERTH_WORD, d): the macro BERTH_WORD_SQLITE or BERTH_WORD_PG.
// Text{BERTH_SQL_BOTH(BERTH_X)} then holds both spellings.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

// BERTH_SQL_IN(BERTH_CONCAT, SQLITE) is BERTH_CONCAT_SQLITE (see the top).
#define BERTH_SQL_IN(word, d) word##_##d
// The arguments of a Text for a statement macro F(d): SQLite's spelling, then PostgreSQL's.
#define BERTH_SQL_BOTH(F) F(SQLITE), F(PG)

// Words more than one store spells per dialect. The aggregate joining strings with a separator:
#define BERTH_SQL_CONCAT_SQLITE "group_concat"
#define BERTH_SQL_CONCAT_PG "string_agg"
// The larger of two values:
#define BERTH_SQL_GREATEST_SQLITE "max"
#define BERTH_SQL_GREATEST_PG "GREATEST"

namespace berth::meta::sql {

enum class Dialect { kSqlite, kPostgres };

template <std::size_t N, std::size_t M = N>
class Text {
 public:
  // One statement for both.
  consteval Text(const char (&both)[N]) : sqlite_(copy<N>(both)), postgres_(dollars<N>(both)) {}
  // A statement spelled for each dialect, both with ?1, ?2, ... parameters.
  consteval Text(const char (&sqlite)[N], const char (&postgres)[M])
      : sqlite_(copy<N>(sqlite)), postgres_(dollars<M>(postgres)) {}

  constexpr std::string_view in(Dialect dialect) const {
    return dialect == Dialect::kSqlite ? std::string_view(sqlite_.data(), N - 1)
                                       : std::string_view(postgres_.data(), M - 1);
  }

 private:
  template <std::size_t L>
  static consteval std::array<char, L> copy(const char (&text)[L]) {
    std::array<char, L> out{};
    for (std::size_t i = 0; i < L; ++i) {
      out[i] = text[i];
    }
    return out;
  }

  // ?1 becomes $1. Only parameters may hold a '?': a stray one (a JSON operator, a '?' in a
  // literal) would need its own PostgreSQL spelling anyway, so it does not compile.
  template <std::size_t L>
  static consteval std::array<char, L> dollars(const char (&text)[L]) {
    std::array<char, L> out = copy<L>(text);
    for (std::size_t i = 0; i + 1 < L; ++i) {
      if (out[i] == '?') {
        if (out[i + 1] < '1' || out[i + 1] > '9') {
          throw "sql::Text: '?' not followed by a parameter number";
        }
        out[i] = '$';
      }
    }
    return out;
  }

  std::array<char, N> sqlite_;
  std::array<char, M> postgres_;
};

template <std::size_t N>
Text(const char (&)[N]) -> Text<N, N>;
template <std::size_t N, std::size_t M>
Text(const char (&)[N], const char (&)[M]) -> Text<N, M>;

// What a Db traits type (sqlite::Db, pg::Db) inherits: the types the stores use, its dialect,
// and Db::sql(text), the statement as that database spells it. Db adds kName, the name its
// errors start with.
template <class DatabaseType, class ConnectionType, class StatementType, Dialect D>
struct Traits {
  using Database = DatabaseType;
  using Connection = ConnectionType;
  using Statement = StatementType;
  static constexpr Dialect kDialect = D;

  template <std::size_t N, std::size_t M>
  static constexpr std::string_view sql(const Text<N, M>& text) {
    return text.in(D);
  }
};

}  // namespace berth::meta::sql
