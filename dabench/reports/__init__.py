"""Reports: what the records say, as tables, documents, plots and dashboard views — the leaderboard
(:mod:`.leaderboard`, :mod:`.tables`, :mod:`.plots`, :mod:`.document`), the literature's claims
(:mod:`.claims`), a sweep's validator quality (:mod:`.quality`), its dashboard view and summary
(:mod:`.dashboard`) and a pick's feature diagnostics (:mod:`.features`). Reports read records;
they never import the engine that wrote them."""
