-- Nothing to undo: the texts hold the same words, and any order reads the same.
SELECT 1;
