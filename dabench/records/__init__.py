"""Records: what dabench writes to MLflow and reads back — the schema (:mod:`.schema`), the store
(:mod:`.store`), the writers and readers, runs files (:mod:`.runs_files`), the selection criteria
(:mod:`.criteria`) and selection as pure functions over records (:mod:`.selection`)."""
