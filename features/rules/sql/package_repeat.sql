-- Rule kind: package_repeat (重复收费: a package item and one of its components)
-- Grain: one row per fee line of a package component (catalog.package_codg = the package's code)
--        billed in the same visit on the same day as the package itself; the package already pays
--        for the component.
-- Parameters: none. Amount at risk: the component line's amount.
-- Method: lines of packages and components share a key (the package code); a window over
--        visit × day × key tells each component line whether its package was billed too.
WITH components AS (
    SELECT c.med_list_codg, c.package_codg, 0 AS is_package
    FROM catalog AS c
    WHERE c.package_codg IS NOT NULL
),

packages AS (
    SELECT c.med_list_codg, c.med_list_codg AS package_codg, 1 AS is_package
    FROM catalog AS c
    WHERE c.med_list_codg IN (SELECT package_codg FROM components)
),

package_items AS (
    SELECT * FROM components
    UNION ALL
    SELECT * FROM packages
),

package_lines AS (
    SELECT
        l.*, p.package_codg, p.is_package,
        MAX(p.is_package) OVER (PARTITION BY l.mdtrt_id, l.fee_day, p.package_codg) AS package_billed
    FROM rule_lines AS l
    INNER JOIN package_items AS p ON l.med_list_codg = p.med_list_codg
),

flagged AS (
    SELECT l.*, l.det_item_fee_sumamt AS amount_at_risk, p.name AS package_name
    FROM package_lines AS l
    INNER JOIN catalog AS p ON l.package_codg = p.med_list_codg
    WHERE l.is_package = 0 AND l.package_billed = 1
)
