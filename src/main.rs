fn main() {
    println!("convtop: under construction");
}
