// store_factory.cc: --store=<name> to a Store.
#include "store.h"

namespace axbench {

const std::vector<std::string>& store_names() {
    static const std::vector<std::string> names = {"rocksdb", "alex",  "alex_capi",
                                                   "hybrid",  "lmdb", "sqlite"};
    return names;
}

std::unique_ptr<Store> make_store(const std::string& name, const StoreLibraries& libs,
                                  std::string* err) {
    if (name == "alex") return make_alex_store();
    if (name == "lmdb") return make_lmdb_store();
    if (name == "sqlite") return make_sqlite_store();
    if (name == "rocksdb" || name == "alex_capi" || name == "hybrid")
        return make_capi_store(name, libs, err);
    std::string known;
    for (const auto& n : store_names()) known += (known.empty() ? "" : ", ") + n;
    *err = "unknown store '" + name + "' (known: " + known + ")";
    return nullptr;
}

}  // namespace axbench
