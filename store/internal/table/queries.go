package table

// Queries the two stores share word for word, written with ? placeholders: store/sqlite runs
// them as they are and store/postgres numbers the placeholders ($1, $2, ...) once, when it
// starts. A query whose SQL differs between the databases (booleans, times compared with
// each other, a placeholder used twice) stays with its store.
const (
	Keys      = `SELECT ` + KeyColumns + ` FROM api_keys ORDER BY num`
	KeyByHash = `SELECT ` + KeyColumns + ` FROM api_keys WHERE hash = ?`
	InsertKey = `
	INSERT INTO api_keys (` + KeyFields + `)
	VALUES (?, ?, ?, ?, ?)
	RETURNING num`
	RevokeKey = `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE num = ?`

	TokenByHash = `SELECT ` + TokenColumns + ` FROM customer_tokens WHERE hash = ?`
	InsertToken = `
	INSERT INTO customer_tokens (` + TokenFields + `)
	VALUES (?, ?, ?, ?, ?)
	RETURNING num`
	RevokeToken = `
	UPDATE customer_tokens SET revoked_at = COALESCE(revoked_at, ?)
	WHERE num = ? AND customer_id = ?`

	SessionByHash = `SELECT ` + SessionColumns + ` FROM sessions WHERE hash = ?`
	InsertSession = `
	INSERT INTO sessions (` + SessionFields + `)
	VALUES (?, ?, ?, ?, ?)
	RETURNING num`

	IdempotencyByKey = `
	SELECT ` + IdempotencyColumns + `
	FROM idempotency WHERE scope = ? AND key = ?`
	// PutIdempotency inserts a record or replaces an expired one (see the stores for how each
	// database settles a race with a record inserted meanwhile).
	PutIdempotency = `
	INSERT INTO idempotency (` + IdempotencyFields + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (scope, key) DO UPDATE SET
		request_hash = excluded.request_hash,
		status = excluded.status,
		header = excluded.header,
		body = excluded.body,
		created_at = excluded.created_at,
		expires_at = excluded.expires_at
	WHERE idempotency.expires_at <= excluded.created_at`

	// PutSale upserts a sale by id; one that exists keeps its num and created_at.
	PutSale = `
	INSERT INTO sales (id, name, starts_at, ends_at, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET
		name = excluded.name,
		starts_at = excluded.starts_at,
		ends_at = excluded.ends_at,
		updated_at = excluded.updated_at
	RETURNING num, created_at`

	// PutPromotion upserts a promotion by code; one that exists keeps its num and created_at
	// and is revived if it was withdrawn. Its JSON columns are PromotionJSON's.
	PutPromotion = `
	INSERT INTO promotions (code, name, description, type, method, rate, amounts, min_subtotal,
	                        min_quantity, skus, product_ids, brands, sale_ids, starts_at, ends_at,
	                        active, deleted, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false, ?, ?)
	ON CONFLICT (code) DO UPDATE SET
		name = excluded.name,
		description = excluded.description,
		type = excluded.type,
		method = excluded.method,
		rate = excluded.rate,
		amounts = excluded.amounts,
		min_subtotal = excluded.min_subtotal,
		min_quantity = excluded.min_quantity,
		skus = excluded.skus,
		product_ids = excluded.product_ids,
		brands = excluded.brands,
		sale_ids = excluded.sale_ids,
		starts_at = excluded.starts_at,
		ends_at = excluded.ends_at,
		active = excluded.active,
		deleted = false,
		updated_at = excluded.updated_at
	RETURNING num, created_at`
)
