-- Rule kind: split_charge (分解收费)
-- Grain: one row per fee line of a package component when at least min_components different
--        components of the same package (catalog.package_codg) are billed in one visit on one day
--        and the package itself is not. One component alone is legitimate.
-- Parameters: min_components (int).
-- Amount at risk: the line's share of what the components cost above the package price
--        (catalog.price_cap, else ref_price); the whole line when the package has no price.
WITH components AS (
    SELECT med_list_codg, package_codg
    FROM catalog
    WHERE package_codg IS NOT NULL
),

packages AS (
    SELECT med_list_codg AS package_codg, name AS package_name, COALESCE(price_cap, ref_price) AS package_price
    FROM catalog
    WHERE med_list_codg IN (SELECT package_codg FROM components)
),

package_lines AS (
    SELECT
        l.*,
        COALESCE(c.package_codg, l.med_list_codg) AS package_codg,
        CASE WHEN c.med_list_codg IS NULL THEN 1 ELSE 0 END AS is_package
    FROM rule_lines AS l
    LEFT JOIN components AS c ON l.med_list_codg = c.med_list_codg
    WHERE c.med_list_codg IS NOT NULL OR l.med_list_codg IN (SELECT package_codg FROM packages)
),

visit_day_packages AS (
    SELECT
        mdtrt_id,
        fee_day,
        package_codg,
        MAX(is_package) AS package_billed,
        COUNT(DISTINCT CASE WHEN is_package = 0 THEN med_list_codg END) AS n_components,
        SUM(CASE WHEN is_package = 0 THEN det_item_fee_sumamt ELSE 0 END) AS component_amt
    FROM package_lines
    GROUP BY mdtrt_id, fee_day, package_codg
),

split_groups AS (
    SELECT g.mdtrt_id, g.fee_day, g.package_codg, g.n_components, g.component_amt, p.package_name,
        p.package_price
    FROM visit_day_packages AS g
    INNER JOIN packages AS p ON g.package_codg = p.package_codg
    WHERE g.package_billed = 0 AND g.n_components >= $min_components
),

flagged AS (
    SELECT
        l.*,
        CASE
            WHEN g.package_price IS NULL OR g.component_amt <= 0 THEN l.det_item_fee_sumamt
            ELSE l.det_item_fee_sumamt * GREATEST(g.component_amt - g.package_price, 0) / g.component_amt
        END AS amount_at_risk,
        g.package_name,
        g.n_components,
        g.component_amt,
        g.package_price
    FROM package_lines AS l
    INNER JOIN split_groups AS g
        ON l.mdtrt_id = g.mdtrt_id AND l.fee_day = g.fee_day AND l.package_codg = g.package_codg
    WHERE l.is_package = 0
)
