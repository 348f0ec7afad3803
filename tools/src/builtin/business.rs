//! Query tools over the shipped SQLite sample shop (`data/business.sql`):
//! products, customers, orders and sales.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::spec::{req, round, Args, Builtin, Ty};
use super::Env;

const CATEGORIES: &[&str] = &["kitchen", "outdoor", "electronics", "stationery"];

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "list_products",
        domain: "business",
        description: "Products of the shop in a category, with their unit prices.",
        params: &[req("category", Ty::Enum(CATEGORIES), "category", "Product category.")],
        outputs: &[("products[].product_id", "product_id")],
        asks: &["show me what we sell in the {category} category", "list our {category} products with their prices"],
        tells: &["In {category} we sell {products}.", "The {category} range is {products}."],
        run: list_products,
    },
    Builtin {
        name: "get_product",
        domain: "business",
        description: "Name, category and unit price of a product by its id.",
        params: &[req("product_id", Ty::Str, "product_id", "Product id, e.g. P-101.")],
        outputs: &[("unit_price", "price"), ("category", "category")],
        asks: &["look up product {product_id}", "get the details and price of product {product_id}"],
        tells: &["{product_id} is the {name} ({category}) at {unit_price}.", "Product {product_id}, the {name}, sells for {unit_price}."],
        run: get_product,
    },
    Builtin {
        name: "get_customer",
        domain: "business",
        description: "Name, city, email and join date of a customer by id.",
        params: &[req("customer_id", Ty::Str, "customer_id", "Customer id, e.g. C-1003.")],
        outputs: &[("city", "city"), ("joined", "date")],
        asks: &["pull up customer {customer_id}'s record", "find out who customer {customer_id} is and where they live"],
        tells: &["Customer {customer_id} is {name} from {city}, a customer since {joined}.", "{customer_id} belongs to {name} in {city} ({email})."],
        run: get_customer,
    },
    Builtin {
        name: "list_customer_orders",
        domain: "business",
        description: "All orders of a customer with dates, statuses and totals.",
        params: &[req("customer_id", Ty::Str, "customer_id", "Customer id.")],
        outputs: &[("orders[].order_id", "order_id"), ("orders[].total", "numbers")],
        asks: &["list every order customer {customer_id} has placed", "show me the order history of customer {customer_id}"],
        tells: &["Customer {customer_id} has {order_count} orders: {orders}.", "{customer_id}'s orders are {orders}."],
        run: list_customer_orders,
    },
    Builtin {
        name: "get_order",
        domain: "business",
        description: "Items, status, date and total of an order by id.",
        params: &[req("order_id", Ty::Str, "order_id", "Order id, e.g. O-5012.")],
        outputs: &[
            ("customer_id", "customer_id"),
            ("order_date", "date"),
            ("total", "price"),
            ("items[].product_id", "product_id"),
        ],
        asks: &["open order {order_id} and tell me what is in it", "check the contents and status of order {order_id}"],
        tells: &["Order {order_id} ({status}, placed {order_date}) holds {items} for a total of {total}.", "{order_id} was placed on {order_date} by {customer_id}: {items}, total {total}, now {status}."],
        run: get_order,
    },
    Builtin {
        name: "sales_summary",
        domain: "business",
        description: "Order count, revenue and best-selling product between two dates (inclusive).",
        params: &[
            req("start_date", Ty::Str, "sales_date", "YYYY-MM-DD."),
            req("end_date", Ty::Str, "sales_date", "YYYY-MM-DD."),
        ],
        outputs: &[("revenue", "amount"), ("top_product_id", "product_id")],
        asks: &["summarise our sales from {start_date} to {end_date}", "tell me how much revenue we made between {start_date} and {end_date}"],
        tells: &["From {start_date} to {end_date} we took {orders} orders worth {revenue}; the best seller was {top_product_id}.", "Sales between {start_date} and {end_date}: {orders} orders, {revenue} in revenue, led by {top_product_id}."],
        run: sales_summary,
    },
];

fn with_db<T>(env: &Env, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, String> {
    let db = env.db.lock().unwrap_or_else(|e| e.into_inner());
    f(&db).map_err(|e| format!("database query: {e}"))
}

fn list_products(env: &Env, args: &Args) -> Result<Value, String> {
    let category = args.str("category")?;
    let products = with_db(env, |db| {
        let mut s = db.prepare(
            "SELECT product_id, name, unit_price FROM products WHERE category = ?1 ORDER BY product_id",
        )?;
        let rows = s.query_map(params![category], |r| {
            Ok(json!({ "product_id": r.get::<_, String>(0)?, "name": r.get::<_, String>(1)?, "unit_price": r.get::<_, f64>(2)? }))
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    })?;
    if products.is_empty() {
        return Err(format!("no products in category `{category}`"));
    }
    Ok(json!({ "category": category, "products": products }))
}

fn get_product(env: &Env, args: &Args) -> Result<Value, String> {
    let id = args.str("product_id")?;
    with_db(env, |db| {
        db.query_row(
            "SELECT product_id, name, category, unit_price FROM products WHERE product_id = ?1",
            params![id],
            |r| {
                Ok(json!({
                    "product_id": r.get::<_, String>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "category": r.get::<_, String>(2)?,
                    "unit_price": r.get::<_, f64>(3)?,
                }))
            },
        )
        .optional()
    })?
    .ok_or_else(|| format!("no product with id `{id}`"))
}

fn get_customer(env: &Env, args: &Args) -> Result<Value, String> {
    let id = args.str("customer_id")?;
    with_db(env, |db| {
        db.query_row(
            "SELECT customer_id, name, city, email, joined FROM customers WHERE customer_id = ?1",
            params![id],
            |r| {
                Ok(json!({
                    "customer_id": r.get::<_, String>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "city": r.get::<_, String>(2)?,
                    "email": r.get::<_, String>(3)?,
                    "joined": r.get::<_, String>(4)?,
                }))
            },
        )
        .optional()
    })?
    .ok_or_else(|| format!("no customer with id `{id}`"))
}

const ORDER_TOTAL: &str = "SELECT COALESCE(SUM(i.quantity * p.unit_price), 0) FROM order_items i \
     JOIN products p ON p.product_id = i.product_id WHERE i.order_id = o.order_id";

fn list_customer_orders(env: &Env, args: &Args) -> Result<Value, String> {
    let id = args.str("customer_id")?;
    get_customer(env, args)?;
    let orders = with_db(env, |db| {
        let sql = format!(
            "SELECT o.order_id, o.order_date, o.status, ({ORDER_TOTAL}) FROM orders o \
             WHERE o.customer_id = ?1 ORDER BY o.order_date, o.order_id"
        );
        let mut s = db.prepare(&sql)?;
        let rows = s.query_map(params![id], |r| {
            Ok(json!({
                "order_id": r.get::<_, String>(0)?,
                "order_date": r.get::<_, String>(1)?,
                "status": r.get::<_, String>(2)?,
                "total": round(r.get::<_, f64>(3)?, 2),
            }))
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    })?;
    if orders.is_empty() {
        return Err(format!("customer `{id}` has no orders"));
    }
    Ok(json!({ "customer_id": id, "order_count": orders.len(), "orders": orders }))
}

fn get_order(env: &Env, args: &Args) -> Result<Value, String> {
    let id = args.str("order_id")?;
    let head = with_db(env, |db| {
        db.query_row(
            "SELECT customer_id, order_date, status FROM orders WHERE order_id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()
    })?
    .ok_or_else(|| format!("no order with id `{id}`"))?;
    let items = with_db(env, |db| {
        let mut s = db.prepare(
            "SELECT i.product_id, p.name, i.quantity, i.quantity * p.unit_price FROM order_items i \
             JOIN products p ON p.product_id = i.product_id WHERE i.order_id = ?1 ORDER BY i.product_id",
        )?;
        let rows = s.query_map(params![id], |r| {
            Ok(json!({
                "product_id": r.get::<_, String>(0)?,
                "name": r.get::<_, String>(1)?,
                "quantity": r.get::<_, i64>(2)?,
                "line_total": round(r.get::<_, f64>(3)?, 2),
            }))
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    })?;
    let total: f64 = items.iter().filter_map(|i| i["line_total"].as_f64()).sum();
    Ok(json!({
        "order_id": id,
        "customer_id": head.0,
        "order_date": head.1,
        "status": head.2,
        "items": items,
        "total": round(total, 2),
    }))
}

fn sales_summary(env: &Env, args: &Args) -> Result<Value, String> {
    let (start, end) = (args.date("start_date")?, args.date("end_date")?);
    if end < start {
        return Err("end_date is before start_date".into());
    }
    let (start, end) = (start.to_string(), end.to_string());
    let (orders, revenue) = with_db(env, |db| {
        db.query_row(
            &format!(
                "SELECT COUNT(*), COALESCE(SUM(({ORDER_TOTAL})), 0) FROM orders o \
                 WHERE o.order_date BETWEEN ?1 AND ?2"
            ),
            params![start, end],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)),
        )
    })?;
    if orders == 0 {
        return Err(format!("no orders between {start} and {end}"));
    }
    let top: String = with_db(env, |db| {
        db.query_row(
            "SELECT i.product_id FROM order_items i JOIN orders o ON o.order_id = i.order_id \
             WHERE o.order_date BETWEEN ?1 AND ?2 GROUP BY i.product_id \
             ORDER BY SUM(i.quantity) DESC, i.product_id LIMIT 1",
            params![start, end],
            |r| r.get(0),
        )
    })?;
    Ok(json!({
        "start_date": start,
        "end_date": end,
        "orders": orders,
        "revenue": round(revenue, 2),
        "top_product_id": top,
    }))
}
