module bazaar/lint

go 1.26.0
