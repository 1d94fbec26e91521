-- The end of every fee-line kind's query (features.rules): the kind's CTEs end with `flagged`, one
-- row per hit line (rule_lines' columns, its amount at risk and the kind's detail fields); each hit
-- names the line's catalogue item.
hits AS (
    SELECT q.*, c.name AS item_name
    FROM flagged AS q
    LEFT JOIN catalog AS c ON q.med_list_codg = c.med_list_codg
)
