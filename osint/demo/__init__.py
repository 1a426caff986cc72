"""The offline demo: a synthetic world shaped like the "Dia Diarra" case, collected and analysed."""
