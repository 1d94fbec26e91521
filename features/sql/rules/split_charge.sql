-- Rule kind: split_charge (分解收费)
-- Grain: one row per fee line of a package component when at least min_components different
--        components of the same package (catalog.package_codg) are billed in one visit on one day
--        and the package itself is not. One component alone is legitimate.
-- Parameters: min_components (int).
-- Amount at risk: the line's share of what the components cost above the package price
--        (catalog.price_cap, else ref_price); the whole line when the package has no price.
WITH components AS (
    SELECT med_list_codg, name AS item_name, package_codg
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
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.det_item_fee_sumamt, f.bilg_dr_codg,
        COALESCE(c.package_codg, f.med_list_codg) AS package_codg,
        CASE WHEN c.med_list_codg IS NULL THEN 1 ELSE 0 END AS is_package,
        c.item_name,
        CAST(f.fee_ocur_time AS DATE) AS fee_date
    FROM fee_list_d AS f
    LEFT JOIN components AS c ON f.med_list_codg = c.med_list_codg
    WHERE f.cnt > 0
        AND (c.med_list_codg IS NOT NULL OR f.med_list_codg IN (SELECT package_codg FROM packages))
),

visit_day_packages AS (
    SELECT
        mdtrt_id,
        fee_date,
        package_codg,
        MAX(is_package) AS package_billed,
        COUNT(DISTINCT CASE WHEN is_package = 0 THEN med_list_codg END) AS n_components,
        SUM(CASE WHEN is_package = 0 THEN det_item_fee_sumamt ELSE 0 END) AS component_amt
    FROM package_lines
    GROUP BY mdtrt_id, fee_date, package_codg
),

split_groups AS (
    SELECT g.mdtrt_id, g.fee_date, g.package_codg, g.n_components, g.component_amt, p.package_name,
        p.package_price
    FROM visit_day_packages AS g
    INNER JOIN packages AS p ON g.package_codg = p.package_codg
    WHERE g.package_billed = 0 AND g.n_components >= $min_components
),

hits AS (
    SELECT
        l.fixmedins_code,
        l.mdtrt_id,
        l.feedetl_sn,
        l.psn_no,
        l.bilg_dr_codg AS dr_code,
        l.fee_ocur_time AS event_time,
        l.med_list_codg,
        CASE
            WHEN g.package_price IS NULL OR g.component_amt <= 0 THEN l.det_item_fee_sumamt
            ELSE l.det_item_fee_sumamt * GREATEST(g.component_amt - g.package_price, 0) / g.component_amt
        END AS amount_at_risk,
        l.item_name,
        g.package_name,
        g.n_components,
        g.component_amt,
        g.package_price
    FROM package_lines AS l
    INNER JOIN split_groups AS g
        ON l.mdtrt_id = g.mdtrt_id AND l.fee_date = g.fee_date AND l.package_codg = g.package_codg
    WHERE l.is_package = 0
)

SELECT
    ${evidence_select}
FROM hits AS h
